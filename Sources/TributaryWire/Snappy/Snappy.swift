import CSnappy

/// Snappy's block format (never the framed format, which remote write forbids), on raw bytes.
public enum Snappy {
    /// The framed format's stream identifier chunk: type 0xff, length 6, "sNaPpY".
    static let framedMagic: [UInt8] = [0xFF, 0x06, 0x00, 0x00, 0x73, 0x4E, 0x61, 0x50, 0x70, 0x59]

    /// The length a block declares in its header, checked against `limit` before anything is
    /// allocated.
    /// - Throws: ``WireError`` `.snappyFramed`, `.snappyCorrupt` or `.bodyTooLarge`.
    public static func uncompressedLength(of compressed: UnsafeRawBufferPointer, limit: Int) throws(WireError) -> Int {
        if compressed.starts(with: framedMagic) {
            throw WireError(.snappyFramed, "snappy framed format is not supported; remote write requires the block format")
        }
        var length = 0
        let status = compressed.withMemoryRebound(to: CChar.self) { chars in
            snappy_uncompressed_length(chars.baseAddress, chars.count, &length)
        }
        guard status == SNAPPY_OK else {
            throw WireError(.snappyCorrupt, "cannot decode snappy block: invalid length header (\(compressed.count) compressed bytes)")
        }
        guard length <= limit else {
            throw WireError(.bodyTooLarge, "snappy block declares \(length) uncompressed bytes, over the limit of \(limit)")
        }
        return length
    }

    /// Decompresses a block into `output`, growing it only when it is too small.
    /// - Returns: the uncompressed bytes, borrowed from `output` until its next use.
    /// - Throws: ``WireError`` as ``uncompressedLength(of:limit:)``, or `.snappyCorrupt`.
    public static func decompress(
        _ compressed: UnsafeRawBufferPointer, into output: ScratchBuffer, limit: Int
    ) throws(WireError) -> UnsafeRawBufferPointer {
        let length = try uncompressedLength(of: compressed, limit: limit)
        let destination = output.reserve(length)
        var produced = length
        let status = compressed.withMemoryRebound(to: CChar.self) { input in
            snappy_uncompress(input.baseAddress, input.count, destination.assumingMemoryBound(to: CChar.self), &produced)
        }
        guard status == SNAPPY_OK, produced == length else {
            throw WireError(.snappyCorrupt, "cannot decode snappy block: corrupt or truncated input (\(compressed.count) compressed bytes, \(length) declared)")
        }
        return UnsafeRawBufferPointer(start: destination, count: length)
    }

    /// Compresses `input` as one snappy block.
    public static func compress(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        let bound = snappy_max_compressed_length(input.count)
        return [UInt8](unsafeUninitializedCapacity: bound) { buffer, initialized in
            var length = bound
            let status = input.withMemoryRebound(to: CChar.self) { src in
                buffer.withMemoryRebound(to: CChar.self) { dst in
                    snappy_compress(src.baseAddress, src.count, dst.baseAddress, &length)
                }
            }
            // snappy_compress fails only when the output buffer is too small, and `bound` is
            // snappy's own bound for this input.
            precondition(status == SNAPPY_OK, "snappy_compress failed with its own output bound")
            initialized = length
        }
    }

    /// Compresses `input` as one snappy block.
    public static func compress(_ input: [UInt8]) -> [UInt8] {
        input.withUnsafeBytes { compress($0) }
    }

    /// Decompresses a block into a new array.
    public static func decompress(_ compressed: [UInt8], limit: Int) throws(WireError) -> [UInt8] {
        let scratch = ScratchBuffer()
        let result = compressed.withUnsafeBytes { raw in
            Result { () throws(WireError) in Array(try decompress(raw, into: scratch, limit: limit)) }
        }
        return try result.get()
    }
}
