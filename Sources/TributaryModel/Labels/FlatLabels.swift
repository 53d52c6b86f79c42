#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Byte-level helpers for the flat label encoding shared by ``Labels``, ``LabelsView`` and the
/// decoders that write labels straight into a buffer.
public enum FlatLabels {
    /// Appends one label in the flat encoding. The caller keeps names sorted.
    @inlinable
    public static func append<N: Collection, V: Collection>(name: N, value: V, to bytes: inout [UInt8])
    where N.Element == UInt8, V.Element == UInt8 {
        appendUVarint(UInt64(name.count), to: &bytes)
        bytes.append(contentsOf: name)
        appendUVarint(UInt64(value.count), to: &bytes)
        bytes.append(contentsOf: value)
    }

    /// Appends one label from raw memory.
    @inlinable
    public static func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, to bytes: inout [UInt8]) {
        appendUVarint(UInt64(name.count), to: &bytes)
        bytes.append(contentsOf: name)
        appendUVarint(UInt64(value.count), to: &bytes)
        bytes.append(contentsOf: value)
    }

    @inlinable
    public static func appendUVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Reads a length-prefixed string at `offset`, advancing it; nil if the bytes run out.
    @inlinable
    public static func readString(_ bytes: UnsafeRawBufferPointer, at offset: inout Int) -> UnsafeRawBufferPointer? {
        var length = 0
        var shift = 0
        while true {
            guard offset < bytes.count, shift < 63 else { return nil }
            let byte = bytes[offset]
            offset += 1
            length |= Int(byte & 0x7f) << shift
            if byte < 0x80 { break }
            shift += 7
        }
        guard length >= 0, length <= bytes.count - offset else { return nil }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
        offset += length
        return slice
    }

    /// Lexicographic byte comparison: negative, zero or positive.
    @inlinable
    public static func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let n = Swift.min(a.count, b.count)
        if n > 0, let pa = a.baseAddress, let pb = b.baseAddress {
            let c = memcmpBytes(pa, pb, n)
            if c != 0 { return c }
        }
        return a.count - b.count
    }

    @inlinable
    public static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        a.count == b.count && compare(a, b) == 0
    }

    /// How many bytes `a` and `b` share from their start, read eight at a time.
    @inlinable
    public static func commonPrefix(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let n = Swift.min(a.count, b.count)
        var i = 0
        while i + 8 <= n {
            let x = a.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ b.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            // Loaded little-endian: the lowest set bit is in the first byte that differs.
            if x != 0 { return i + UInt64(littleEndian: x).trailingZeroBitCount / 8 }
            i += 8
        }
        while i < n, a[i] == b[i] { i += 1 }
        return i
    }

    @usableFromInline
    static func memcmpBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Int {
        Int(memcmp(a, b, n))
    }
}
