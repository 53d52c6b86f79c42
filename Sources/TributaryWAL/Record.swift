import CTributaryCRC

/// Record framing of the WAL (see `Docs/wal.md`): `length u32 | crc32c u32 | type u8 | payload`.
public enum Record {
    public static let headerSize = 9

    /// The kinds of record the log holds.
    public enum Kind: UInt8, Sendable {
        case series = 1
        case samples = 2
        case exemplars = 3
        /// Time ranges of series deleted through the admin API (`delete_series`).
        case deletions = 4
    }

    /// Appends one framed record to `buffer`; `writePayload` appends the payload.
    public static func append(_ kind: Kind, to buffer: inout [UInt8], _ writePayload: (inout [UInt8]) -> Void) {
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: headerSize))
        buffer[start + 8] = kind.rawValue
        writePayload(&buffer)
        let length = buffer.count - start - headerSize
        let crc = buffer.withUnsafeBytes { raw in
            tributary_crc32c(0, raw.baseAddress! + start + 8, length + 1)
        }
        store32(UInt32(length), &buffer, start)
        store32(crc, &buffer, start + 4)
    }

    static func store32(_ v: UInt32, _ buffer: inout [UInt8], _ at: Int) {
        buffer[at] = UInt8(truncatingIfNeeded: v)
        buffer[at + 1] = UInt8(truncatingIfNeeded: v >> 8)
        buffer[at + 2] = UInt8(truncatingIfNeeded: v >> 16)
        buffer[at + 3] = UInt8(truncatingIfNeeded: v >> 24)
    }

    /// The result of reading a record at an offset.
    public enum Read {
        case record(Kind, payload: UnsafeRawBufferPointer, next: Int)
        case end
        case invalid(reason: String)
    }

    /// Reads the record at `offset` of a segment's bytes.
    public static func read(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Read {
        if offset == bytes.count { return .end }
        guard bytes.count - offset >= headerSize else { return .invalid(reason: "torn record header (\(bytes.count - offset) bytes)") }
        let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian)
        let crc = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self).littleEndian
        guard length <= bytes.count - offset - headerSize else {
            return .invalid(reason: "record of \(length) bytes runs past the end of the segment")
        }
        let body = UnsafeRawBufferPointer(rebasing: bytes[(offset + 8)..<(offset + headerSize + length)])
        guard tributary_crc32c(0, body.baseAddress, body.count) == crc else { return .invalid(reason: "checksum mismatch") }
        guard let kind = Kind(rawValue: body[0]) else { return .invalid(reason: "unknown record type \(body[0])") }
        return .record(kind, payload: UnsafeRawBufferPointer(rebasing: body.dropFirst()), next: offset + headerSize + length)
    }
}

/// CRC-32C of `bytes` (exposed for tests and tools).
public func tributaryCRC32C(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    tributary_crc32c(0, bytes.baseAddress, bytes.count)
}
