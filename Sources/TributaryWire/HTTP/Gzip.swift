import CZlib

/// Compresses an HTTP answer with the system zlib (gzip framing), for clients that send
/// `Accept-Encoding: gzip`: JSON of a range query shrinks about tenfold.
public enum Gzip {
    /// The gzip form of `input` (level 1: the answer is on its way, speed beats ratio), or nil
    /// when zlib fails (the caller then sends the body as it is).
    public static func compress(_ input: [UInt8], level: Int32 = 1) -> [UInt8]? {
        var stream = z_stream()
        // 15 window bits, +16: a gzip header and trailer.
        guard deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            return nil
        }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 32)
        let result: Int32 = input.withUnsafeBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress)
                stream.avail_in = UInt32(inBuffer.count)
                stream.next_out = out.baseAddress
                stream.avail_out = UInt32(out.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard result == Z_STREAM_END else { return nil }
        output.removeSubrange(Int(stream.total_out)...)
        return output
    }
}

/// Gzip written piece by piece, for an answer sent while it is being written: each ``append(_:)``
/// returns what zlib has ready (often nothing until its buffer fills), ``finish()`` the rest and
/// the trailer. Nil from either means zlib failed.
public final class GzipStream {
    private var stream = z_stream()
    private var open = false

    public init?(level: Int32 = 1) {
        guard deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            return nil
        }
        open = true
    }

    deinit { if open { deflateEnd(&stream) } }

    public func append(_ input: [UInt8]) -> [UInt8]? { deflateAll(input, flush: Z_NO_FLUSH) }

    public func finish() -> [UInt8]? { deflateAll([], flush: Z_FINISH) }

    private func deflateAll(_ input: [UInt8], flush: Int32) -> [UInt8]? {
        guard open else { return nil }
        var output: [UInt8] = []
        var block = [UInt8](repeating: 0, count: 64 * 1024)
        let ok: Bool = input.withUnsafeBufferPointer { inBuffer in
            stream.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress)
            stream.avail_in = UInt32(inBuffer.count)
            while true {
                let (result, produced) = block.withUnsafeMutableBufferPointer { out -> (Int32, Int) in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(out.count)
                    let result = deflate(&stream, flush)
                    return (result, out.count - Int(stream.avail_out))
                }
                output.append(contentsOf: block[0..<produced])
                if result == Z_STREAM_END { return true }
                guard result == Z_OK || result == Z_BUF_ERROR else { return false }
                // Done when zlib took all input and had room left over (nothing more pending).
                if stream.avail_in == 0, produced < block.count, flush != Z_FINISH { return true }
                if result == Z_BUF_ERROR, produced == 0 { return flush != Z_FINISH }
            }
        }
        stream.next_in = nil
        if flush == Z_FINISH {
            deflateEnd(&stream)
            open = false
        }
        return ok ? output : nil
    }
}
