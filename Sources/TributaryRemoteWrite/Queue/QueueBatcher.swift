/// When a remote-write queue sends, and over how many shards: the decisions of the queue's
/// read loop apart from its I/O. ``RemoteWriteQueue`` reads the WAL, asks ``next(pending:readSomething:waited:)``
/// what to do, does it (read again, wait, send), and reports each delivered round.
///
/// A round holds at most ``fullAt`` samples: one full request per shard, within the queue's
/// capacity. A partial round waits for more until the batch deadline (`batch_send_deadline`),
/// counted from its first sample. Shards double while full rounds take longer than half the
/// deadline, and halve while rounds fill less than a quarter of them.
struct QueueBatcher: Sendable {
    let capacity: Int
    let maxSamplesPerSend: Int
    let minShards: Int
    let maxShards: Int
    let deadline: Duration
    private(set) var shards: Int

    init(_ config: QueueConfig) {
        capacity = config.capacity
        maxSamplesPerSend = config.maxSamplesPerSend
        minShards = config.minShards
        maxShards = config.maxShards
        deadline = .milliseconds(config.batchSendDeadline)
        shards = config.minShards
    }

    /// The most samples one round holds.
    var fullAt: Int { min(capacity, maxSamplesPerSend * shards) }

    /// What the queue does next.
    enum Action: Equatable {
        /// The WAL may hold more: read again before deciding.
        case read
        /// Nothing pending and nothing new: everything read is delivered; wait for a sample.
        case idle
        /// A partial round: wait until `samples` more are logged, or `timeout`.
        case wait(samples: Int, timeout: Duration)
        /// Send the round now.
        case send
    }

    /// The next step after a read of the WAL.
    /// - Parameters:
    ///   - pending: samples in the round so far.
    ///   - readSomething: whether the read found records.
    ///   - waited: time since the round's first sample was read.
    func next(pending: Int, readSomething: Bool, waited: Duration) -> Action {
        if pending == 0 { return readSomething ? .read : .idle }
        let full = pending >= fullAt
        if readSomething, !full { return .read }
        if !full, waited < deadline { return .wait(samples: fullAt - pending, timeout: deadline - waited) }
        return .send
    }

    /// A round of `samples` was delivered in `took`: the shard count for the next one.
    mutating func delivered(samples: Int, took: Duration) {
        if samples >= fullAt, took > deadline / 2 {
            shards = min(maxShards, shards * 2)
        } else if samples < maxSamplesPerSend * shards / 4 {
            shards = max(minShards, shards / 2)
        }
    }
}
