import CTributaryCRC

/// CRC-32C (Castagnoli) of `bytes`, the checksum of every section of a block's files.
func crc32c(_ bytes: [UInt8]) -> UInt32 {
    bytes.withUnsafeBytes { tributary_crc32c(0, $0.baseAddress, $0.count) }
}

/// Bytes being written in a block file's encodings: big-endian integers and Go's varints.
struct EncodeBuffer {
    var bytes: [UInt8] = []

    mutating func be32(_ x: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: x >> 24))
        bytes.append(UInt8(truncatingIfNeeded: x >> 16))
        bytes.append(UInt8(truncatingIfNeeded: x >> 8))
        bytes.append(UInt8(truncatingIfNeeded: x))
    }

    mutating func be64(_ x: UInt64) {
        be32(UInt32(truncatingIfNeeded: x >> 32))
        be32(UInt32(truncatingIfNeeded: x))
    }

    mutating func uvarint(_ x: UInt64) {
        var v = x
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Zig-zag signed varint, as Go's `binary.PutVarint`.
    mutating func varint(_ x: Int64) {
        uvarint(UInt64(bitPattern: (x << 1) ^ (x >> 63)))
    }

    /// A string as its uvarint length and UTF-8 bytes.
    mutating func uvarintString(_ s: String) {
        uvarint(UInt64(s.utf8.count))
        bytes.append(contentsOf: s.utf8)
    }

    /// The CRC-32C of `bytes[from...]`, appended big-endian.
    mutating func appendCRC(of range: Range<Int>) {
        be32(bytes.withUnsafeBytes { tributary_crc32c(0, $0.baseAddress.map { $0 + range.lowerBound }, range.count) })
    }
}

/// A bounds-checked reader over a block file's bytes. Every read past the end or malformed
/// varint throws a ``BlockError`` naming the file and the offset.
struct DecodeBuffer {
    let bytes: UnsafeRawBufferPointer
    let file: String
    var position: Int
    let end: Int

    init(_ bytes: UnsafeRawBufferPointer, file: String, from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.file = file
        self.position = start
        self.end = min(end ?? bytes.count, bytes.count)
    }

    var remaining: Int { end - position }

    func error(_ why: String, at offset: Int? = nil) -> BlockError {
        BlockError("\(file): \(why) at byte \(offset ?? position)")
    }

    mutating func need(_ n: Int, _ what: String) throws(BlockError) {
        guard n >= 0, position <= end, end - position >= n else {
            throw error("\(what) needs \(n) bytes, \(max(end - position, 0)) left")
        }
    }

    mutating func byte(_ what: String) throws(BlockError) -> UInt8 {
        try need(1, what)
        defer { position += 1 }
        return bytes[position]
    }

    mutating func be32(_ what: String) throws(BlockError) -> UInt32 {
        try need(4, what)
        var x: UInt32 = 0
        for i in 0..<4 { x = x << 8 | UInt32(bytes[position + i]) }
        position += 4
        return x
    }

    mutating func be64(_ what: String) throws(BlockError) -> UInt64 {
        UInt64(try be32(what)) << 32 | UInt64(try be32(what))
    }

    mutating func uvarint(_ what: String) throws(BlockError) -> UInt64 {
        var x: UInt64 = 0
        var shift: UInt64 = 0
        let start = position
        while position < end {
            let b = bytes[position]
            position += 1
            if shift == 63, b > 1 { break }
            x |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return x }
            shift += 7
            if shift > 63 { break }
        }
        throw error("\(what): malformed or truncated varint", at: start)
    }

    mutating func varint(_ what: String) throws(BlockError) -> Int64 {
        zigZagDecoded(try uvarint(what))
    }

    /// A uvarint-prefixed string.
    mutating func uvarintString(_ what: String) throws(BlockError) -> String {
        let n = try uvarint(what + " length")
        guard n <= UInt64(remaining) else { throw error("\(what): length \(n) runs past the end") }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<position + Int(n)]), as: UTF8.self)
        position += Int(n)
        return s
    }

    mutating func skip(_ n: Int, _ what: String) throws(BlockError) {
        try need(n, what)
        position += n
    }

    /// Checks the big-endian CRC-32C at the position against `bytes[range]`, and moves past it.
    mutating func checkCRC(of range: Range<Int>, _ what: String) throws(BlockError) {
        let at = position
        let stored = try be32(what + " checksum")
        let computed = tributary_crc32c(0, bytes.baseAddress.map { $0 + range.lowerBound }, range.count)
        guard stored == computed else { throw error("\(what): checksum mismatch", at: at) }
    }
}

/// A block on disk is unreadable (or could not be written): the file, the offset and why.
public struct BlockError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
