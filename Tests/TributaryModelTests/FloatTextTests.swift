import Testing
import TributaryModel

/// Values as Prometheus's API writes them: Go's FormatFloat(v, 'f', -1, 64).
@Suite struct FloatTextTests {
    @Test func plainNumbersAsGoWritesThem() {
        let cases: [(Double, String)] = [
            (0, "0"), (-0.0, "-0"), (1, "1"), (-42, "-42"), (1.5, "1.5"), (0.5, "0.5"), (0.001, "0.001"), (1e-05, "0.00001"),
            (-2.5e-7, "-0.00000025"), (123.456, "123.456"), (1.5e20, "150000000000000000000"), (9_007_199_254_740_993, "9007199254740992"),
            (1e16, "10000000000000000"), (0.6666666666666666, "0.6666666666666666"), (167999.99999999997, "167999.99999999997"),
            (.nan, "NaN"), (.infinity, "+Inf"), (-.infinity, "-Inf"), (5e-324, "0." + String(repeating: "0", count: 323) + "5"),
            (1e300, "1" + String(repeating: "0", count: 300))
        ]
        for (v, text) in cases { #expect(FloatText.plain(v) == text, "\(v)") }
    }

    @Test func randomValuesRoundTripWithoutExponent() {
        var seed: UInt64 = 7
        for _ in 0..<20_000 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let v = Double(bitPattern: seed)
            guard v.isFinite else { continue }
            let text = FloatText.plain(v)
            #expect(!text.contains("e") && !text.contains("E"), "\(v): \(text)")
            #expect(Double(text) == v, "\(v): \(text)")
            #expect(!(text.contains(".") && text.hasSuffix("0")), "\(v): \(text)")
        }
    }

    @Test func digitsOfEveryLength() {
        var numbers: [UInt64] = Array(0..<10_000) + [UInt64.max, UInt64.max - 1, 1_796_359_860, 10_000_000_000_000_000_000]
        var power: UInt64 = 1
        for _ in 0..<19 {
            power *= 10
            numbers += [power - 1, power, power + 1, power / 2 + 7]
        }
        for n in numbers {
            var out: [UInt8] = [UInt8(ascii: "x")]
            FloatText.appendDigits(n, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == "x\(n)")
        }
    }
}
