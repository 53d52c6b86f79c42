import Foundation
import NIOCore
import TributaryWire

/// An API answer that starts on its way once it outgrows one chunk: the first full chunk answers
/// 200 with a ``BodyStream`` (gzip-compressed as it goes when the client takes gzip), later chunks
/// follow it, and ``complete(_:)`` sends the rest. An answer that fits one chunk is sent whole
/// (compressed when over 1 KiB), errors included: nothing is streamed before the query has
/// succeeded, because chunks come only from writing a result.
///
/// A gzip answer can also carry parts compressed earlier (``sendFragment(_:_:)``: a results
/// cache's settled steps), so a refresh does not compress them again. Its compressed bytes are
/// written straight into the connection's buffers (``DeflateOutput``), not into an array
/// copied there once full.
final class StreamedAnswer: @unchecked Sendable {
    private let gzip: Bool
    private let deadline: Date
    private let respond: @Sendable (HTTPAnswer) -> Void
    private var stream: BodyStream?
    private var compressor: GzipStream?
    /// Compressed bytes not yet handed to the stream (fragments are small; they go out in
    /// chunks of ``JSONWriter/chunkSize``). Given room when the answer is streamed with gzip.
    private var outgoing = ByteBuffer()

    init(gzip: Bool, timeout: Double, respond: @escaping @Sendable (HTTPAnswer) -> Void) {
        self.gzip = gzip
        self.deadline = Date(timeIntervalSinceNow: timeout)
        self.respond = respond
    }

    /// Whether ``sendFragment(_:_:)`` may be used (the client takes gzip).
    var takesFragments: Bool { gzip }

    /// The stream, started (with its 200 and headers) on first use.
    private func started() -> BodyStream {
        if let stream { return stream }
        let stream = BodyStream(deadline: deadline)
        self.stream = stream
        var headers = [("Content-Type", "application/json")]
        if gzip {
            compressor = GzipStream()
            outgoing = Self.chunk()
            headers.append(("Content-Encoding", "gzip"))
        }
        respond(HTTPAnswer(status: 200, headers: headers, stream: stream))
        return stream
    }

    /// A full chunk of a successful answer; false when the client is gone (stop writing).
    func send(_ bytes: [UInt8]) -> Bool {
        let stream = started()
        guard let compressor else { return stream.send(ByteBuffer(bytes: bytes)) }
        guard compressor.append(bytes, to: &outgoing) else {
            stream.abandon()
            return false
        }
        return passOn(stream, force: false)
    }

    /// `bytes` (written since the last chunk) followed by `fragment`, which is already
    /// compressed; only when ``takesFragments``. False when the client is gone.
    func sendFragment(_ bytes: [UInt8], _ part: Precompressed) -> Bool {
        let stream = started()
        guard let compressor, compressor.append(bytes, to: &outgoing), compressor.append(part, to: &outgoing) else {
            stream.abandon()
            return false
        }
        return passOn(stream, force: false)
    }

    /// Hands the compressed bytes to the stream once they fill a chunk (or when `force`).
    private func passOn(_ stream: BodyStream, force: Bool) -> Bool {
        guard force || outgoing.readableBytes >= JSONWriter.chunkSize else { return true }
        // The full buffer goes to the stream; a new one takes its place unless this is the end.
        var full = force ? ByteBuffer() : Self.chunk()
        swap(&full, &outgoing)
        return stream.send(full)
    }

    /// An empty buffer for compressed bytes, with room for a chunk and the fragment that ends it.
    private static func chunk() -> ByteBuffer {
        ByteBufferAllocator().buffer(capacity: JSONWriter.chunkSize + 64 * 1024)
    }

    /// The answer's last part (or the whole answer, when nothing was streamed).
    func complete(_ answer: HTTPAnswer) {
        guard let stream else {
            var answer = answer
            if gzip, answer.body.count > 1024, let compressed = Gzip.compress(answer.body) {
                answer.body = compressed
                answer.headers.append(("Content-Encoding", "gzip"))
            }
            return respond(answer)
        }
        // A streamed answer cannot change its status any more: a failure now cuts the connection.
        guard answer.status == 200 else { return stream.abandon() }
        if let compressor {
            guard compressor.append(answer.body, to: &outgoing), compressor.finish(to: &outgoing) else { return stream.abandon() }
            _ = passOn(stream, force: true)
        } else {
            _ = stream.send(ByteBuffer(bytes: answer.body))
        }
        stream.finish()
    }
}

extension ByteBuffer: DeflateOutput {
    public mutating func appendDeflated(_ bytes: UnsafeRawBufferPointer) { writeBytes(bytes) }

    public mutating func appendDeflated(count: Int, _ fill: (UnsafeMutableRawPointer) -> Void) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: count) { free in
            guard let base = free.baseAddress else { return 0 }
            fill(base)
            return count
        }
    }
}
