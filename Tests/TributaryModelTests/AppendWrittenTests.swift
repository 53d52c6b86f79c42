import Testing
import TributaryModel

/// Bytes written in place at the end of an array keep what was there and leave nothing of the
/// room they were given, whether the room comes from the zero block or is made longer.
@Suite struct AppendWrittenTests {
    @Test(arguments: [1, 20, 512, 513, 2000])
    func writtenBytesFollowWhatIsThere(atMost: Int) {
        var out = Array("abc".utf8)
        for n in [0, 1, atMost / 2, atMost] {
            let before = out
            out.appendWritten(atMost: atMost) { p in
                for k in 0..<n { p[k] = UInt8(ascii: "a") &+ UInt8(k % 26) }
                return n
            }
            #expect(out.count == before.count + n, "room \(atMost), \(n) written")
            #expect(Array(out[..<before.count]) == before)
            #expect(Array(out[before.count...]) == (0..<n).map { UInt8(ascii: "a") &+ UInt8($0 % 26) })
        }
    }
}
