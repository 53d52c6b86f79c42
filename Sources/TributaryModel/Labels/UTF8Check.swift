/// UTF-8 validation over raw bytes with an ASCII fast path (eight bytes per step).
public enum UTF8Check {
    @inlinable
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = bytes.count
        while i + 8 <= n {
            if bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { break }
            i += 8
        }
        while i < n {
            let b = bytes[i]
            if b < 0x80 { i += 1; continue }
            var need: Int
            var minScalar: UInt32
            var scalar: UInt32
            switch b {
            case 0xC2...0xDF: need = 1; minScalar = 0x80; scalar = UInt32(b & 0x1F)
            case 0xE0...0xEF: need = 2; minScalar = 0x800; scalar = UInt32(b & 0x0F)
            case 0xF0...0xF4: need = 3; minScalar = 0x10000; scalar = UInt32(b & 0x07)
            default: return false
            }
            guard i + need < n else { return false }
            var k = 1
            while k <= need {
                let c = bytes[i + k]
                guard c & 0xC0 == 0x80 else { return false }
                scalar = scalar << 6 | UInt32(c & 0x3F)
                k += 1
            }
            if scalar < minScalar || scalar > 0x10FFFF || (0xD800...0xDFFF).contains(scalar) { return false }
            i += need + 1
        }
        return true
    }

    /// Number of code points, counting every byte that does not continue a sequence (exact for
    /// valid UTF-8, an estimate otherwise).
    @inlinable
    public static func runeCount(_ bytes: UnsafeRawBufferPointer) -> Int {
        var n = 0
        for b in bytes where b & 0xC0 != 0x80 { n += 1 }
        return n
    }
}
