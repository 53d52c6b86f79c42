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

/// ``FloatText/plain(_:)`` against a slow reference that expands Swift's own description with
/// string operations, over random bit patterns and the powers of ten at every exponent.
@Suite struct FloatTextReferenceTests {
    static func reference(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        var text = "\(v)"
        let negative = text.hasPrefix("-")
        if negative { text.removeFirst() }
        var mantissa = text
        var exponent = 0
        if let e = text.firstIndex(of: "e") {
            mantissa = String(text[..<e])
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        var digits = String(parts[0]) + (parts.count > 1 ? String(parts[1]) : "")
        var point = parts[0].count + exponent
        while digits.count > 1, digits.hasPrefix("0") {
            digits.removeFirst()
            point -= 1
        }
        var out: String
        if point <= 0 {
            out = "0." + String(repeating: "0", count: -point) + digits
        } else if point >= digits.count {
            out = digits + String(repeating: "0", count: point - digits.count)
        } else {
            out = String(digits.prefix(point)) + "." + String(digits.dropFirst(point))
        }
        if out.contains(".") {
            while out.hasSuffix("0") { out.removeLast() }
            if out.hasSuffix(".") { out.removeLast() }
        }
        return (negative ? "-" : "") + out
    }

    @Test func matchesTheReference() {
        var values: [Double] = [0, -0.0, 1, 0.1, 1e-5, 1e-4, 9.999e-5, 1e15, 1e16, 1e17, 9_007_199_254_740_992, 9_007_199_254_740_994, 123_456_789.125]
        for e in -330...310 {
            let p = Double("1e\(e)") ?? 0
            values += [p, -p, p * 1.5, p * 3.0000000000000004, p.nextUp, p.nextDown]
        }
        var seed: UInt64 = 11
        for _ in 0..<50_000 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            values.append(Double(bitPattern: seed))
            // Values a dashboard shows: ratios, rates, byte counts with a fraction.
            values.append(Double(seed >> 11) / Double(1 << 53) * Double([1e-7, 1e-3, 1, 1e3, 1e9][Int(seed % 5)]))
        }
        for v in values { #expect(FloatText.plain(v) == Self.reference(v), "\(v)") }
    }
}
