import Testing
import TributaryModel

@testable import TributaryReceiver

/// Points are written in place after what the buffer already holds, however long their text.
@Suite struct JSONWriterTests {
    @Test func pointsAppendAfterWhatIsThere() {
        var out = Array("[x".utf8)
        let points: [(Int64, Double, String)] = [
            (1_500, 0.1, #"[1.5,"0.1"]"#),
            (-1, 5e-324, #"[-0.001,"0.\#(String(repeating: "0", count: 323))5"]"#),
            (1_796_359_860_000, 8_523_456_512, #"[1796359860,"8523456512"]"#),
            (0, -.infinity, #"[0,"-Inf"]"#),
            (7, .nan, #"[0.007,"NaN"]"#)
        ]
        var expected = "[x"
        for (t, v, text) in points {
            JSONWriter.appendPoint(t, v, to: &out)
            expected += text
            #expect(String(decoding: out, as: UTF8.self) == expected)
        }
        // The longest text there is (309 digits), and nothing left of the room it was given.
        JSONWriter.appendPoint(0, -.greatestFiniteMagnitude, to: &out)
        let longest = String(decoding: out, as: UTF8.self).dropFirst(expected.utf8.count)
        #expect(longest.hasPrefix(#"[0,"-17976931348623157"#) && longest.hasSuffix(#"0"]"#))
        #expect(longest.utf8.count == 4 + 1 + 309 + 2)
    }
}
