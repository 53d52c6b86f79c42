import Foundation
import TributaryWire

/// An API answer that starts on its way once it outgrows one chunk: the first full chunk answers
/// 200 with a ``BodyStream`` (gzip-compressed as it goes when the client takes gzip), later chunks
/// follow it, and ``complete(_:)`` sends the rest. An answer that fits one chunk is sent whole
/// (compressed when over 1 KiB), errors included: nothing is streamed before the query has
/// succeeded, because chunks come only from writing a result.
final class StreamedAnswer: @unchecked Sendable {
    private let gzip: Bool
    private let deadline: Date
    private let respond: @Sendable (HTTPAnswer) -> Void
    private var stream: BodyStream?
    private var compressor: GzipStream?

    init(gzip: Bool, timeout: Double, respond: @escaping @Sendable (HTTPAnswer) -> Void) {
        self.gzip = gzip
        self.deadline = Date(timeIntervalSinceNow: timeout)
        self.respond = respond
    }

    /// A full chunk of a successful answer; false when the client is gone (stop writing).
    func send(_ bytes: [UInt8]) -> Bool {
        let stream: BodyStream
        if let started = self.stream {
            stream = started
        } else {
            stream = BodyStream(deadline: deadline)
            self.stream = stream
            var headers = [("Content-Type", "application/json")]
            if gzip {
                compressor = GzipStream()
                headers.append(("Content-Encoding", "gzip"))
            }
            respond(HTTPAnswer(status: 200, headers: headers, stream: stream))
        }
        guard let compressor else { return stream.send(bytes) }
        guard let compressed = compressor.append(bytes) else {
            stream.abandon()
            return false
        }
        return stream.send(compressed)
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
            guard let last = compressor.append(answer.body), let tail = compressor.finish() else { return stream.abandon() }
            _ = stream.send(last) && stream.send(tail)
        } else {
            _ = stream.send(answer.body)
        }
        stream.finish()
    }
}
