import Foundation
import NIOCore

/// An answer body handed from the thread that writes it (a query thread) to the connection that
/// sends it, a few chunks at a time: the writer blocks while `maxPending` chunks wait, so a large
/// answer is never held whole, and a client that reads slowly slows only its own query.
/// A client that goes away (or stops reading past the deadline) makes ``send(_:)`` return false,
/// and the writer stops.
final class BodyStream: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [ByteBuffer] = []
    private var finished = false
    private var abandoned = false
    private var reader: CheckedContinuation<ByteBuffer?, Never>?
    let maxPending: Int
    let deadline: Date

    init(maxPending: Int = 4, deadline: Date) {
        self.maxPending = max(1, maxPending)
        self.deadline = deadline
    }

    /// Queues `chunk` for the connection, waiting while `maxPending` chunks are queued; false
    /// when the connection is gone or did not read before the deadline (nothing more to send).
    func send(_ chunk: ByteBuffer) -> Bool {
        guard chunk.readableBytes > 0 else { return true }
        condition.lock()
        while pending.count >= maxPending, !abandoned {
            if !condition.wait(until: deadline) { abandoned = true }
        }
        if abandoned {
            condition.unlock()
            return false
        }
        let waiting = reader
        reader = nil
        if waiting == nil { pending.append(chunk) }
        condition.unlock()
        waiting?.resume(returning: chunk)
        return true
    }

    /// No more chunks: the connection ends the body after those queued.
    func finish() {
        condition.lock()
        finished = true
        let waiting = pending.isEmpty ? reader : nil
        if waiting != nil { reader = nil }
        condition.unlock()
        waiting?.resume(returning: nil)
    }

    /// The connection failed or closed: the writer's next ``send(_:)`` returns false.
    func abandon() {
        condition.lock()
        abandoned = true
        pending.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    /// The next chunk, or nil after the last.
    func next() async -> ByteBuffer? {
        await withCheckedContinuation { (continuation: CheckedContinuation<ByteBuffer?, Never>) in
            condition.lock()
            if !pending.isEmpty {
                let chunk = pending.removeFirst()
                condition.signal()
                condition.unlock()
                continuation.resume(returning: chunk)
            } else if finished || abandoned {
                condition.unlock()
                continuation.resume(returning: nil)
            } else {
                reader = continuation
                condition.unlock()
            }
        }
    }
}
