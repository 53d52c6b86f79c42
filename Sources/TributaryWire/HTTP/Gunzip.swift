import CZlib

/// Inflates a gzip (or zlib) HTTP body with the system zlib, refusing output past `limit` bytes
/// (a small body can expand a thousandfold).
public enum Gunzip {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static func inflate(_ input: [UInt8], limit: Int, expected: Int = 0) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        // 15 window bits, +32: detect a gzip or zlib header.
        guard inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure(description: "gzip: cannot initialise zlib")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: max(min(limit, max(expected, input.count * 4, 4096)), 1))
        var produced = 0
        var result: Int32 = Z_OK
        // `next_in` points into `input`, which stays alive (and unmoved) for the whole call.
        try input.withUnsafeBufferPointer { (inBuffer) throws(Failure) in
            stream.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress)
            stream.avail_in = UInt32(inBuffer.count)
            while true {
                if produced == output.count {
                    guard output.count < limit else { throw Failure(description: "gzip: body inflates past the limit of \(limit) bytes (body_size_limit)") }
                    output.append(contentsOf: repeatElement(0, count: min(output.count, limit - output.count)))
                }
                let room = output.count - produced
                result = output.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress! + produced
                    stream.avail_out = UInt32(room)
                    return CZlib.inflate(&stream, Z_NO_FLUSH)
                }
                produced += room - Int(stream.avail_out)
                switch result {
                case Z_STREAM_END:
                    return
                case Z_OK:
                    continue
                case Z_BUF_ERROR where stream.avail_out > 0:
                    throw Failure(description: "gzip: body ends early (\(input.count) bytes read)")
                case Z_BUF_ERROR:
                    continue
                default:
                    let message = stream.msg.map { String(cString: $0) } ?? "error \(result)"
                    throw Failure(description: "gzip: \(message) after \(Int(stream.total_in)) bytes")
                }
            }
        }
        output.removeSubrange(produced...)
        return output
    }
}
