import Testing

@testable import TributaryRemoteWrite

/// The queue's batching and shard sizing as a state machine: each decision from its inputs.
@Suite struct QueueBatcherTests {
    static func batcher(capacity: Int = 10_000, perSend: Int = 2_000, minShards: Int = 1, maxShards: Int = 8, deadline: Int64 = 5_000) -> QueueBatcher {
        var c = QueueConfig()
        c.capacity = capacity
        c.maxSamplesPerSend = perSend
        c.minShards = minShards
        c.maxShards = maxShards
        c.batchSendDeadline = deadline
        return QueueBatcher(c)
    }

    @Test func decisionsAfterARead() {
        let b = Self.batcher()
        #expect(b.fullAt == 2_000, "one shard: one request")
        #expect(b.next(pending: 0, readSomething: false, waited: .zero) == .idle)
        #expect(b.next(pending: 0, readSomething: true, waited: .zero) == .read, "series records only: read on")
        #expect(b.next(pending: 10, readSomething: true, waited: .seconds(9)) == .read, "the WAL has more: read it first")
        #expect(b.next(pending: 10, readSomething: false, waited: .seconds(1)) == .wait(samples: 1_990, timeout: .seconds(4)))
        #expect(b.next(pending: 10, readSomething: false, waited: .seconds(5)) == .send, "deadline reached")
        #expect(b.next(pending: 2_000, readSomething: true, waited: .zero) == .send, "full")
        #expect(Self.batcher(capacity: 500).fullAt == 500, "never above the capacity")
    }

    @Test func shardsFollowTheLoad() {
        var b = Self.batcher(maxShards: 4)
        // Full rounds slower than half the deadline: double, up to max_shards.
        b.delivered(samples: 2_000, took: .seconds(3))
        #expect(b.shards == 2 && b.fullAt == 4_000)
        b.delivered(samples: 4_000, took: .seconds(3))
        b.delivered(samples: 8_000, took: .seconds(3))
        #expect(b.shards == 4, "capped at max_shards")
        // A full round that is quick keeps them.
        b.delivered(samples: 8_000, took: .milliseconds(100))
        #expect(b.shards == 4)
        // Rounds under a quarter full: halve, down to min_shards.
        b.delivered(samples: 1_000, took: .milliseconds(10))
        #expect(b.shards == 2)
        b.delivered(samples: 10, took: .milliseconds(10))
        b.delivered(samples: 10, took: .milliseconds(10))
        #expect(b.shards == 1, "floored at min_shards")
    }
}
