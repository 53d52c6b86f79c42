import Synchronization
import Testing

@testable import TributaryTSDB

/// What results caches ask the head: the oldest sample stored since a mark.
@Suite struct RecentWritesTests {
    final class Clock: Sendable {
        let seconds = Atomic<Int64>(1000)
        func advance(_ n: Int64) { seconds.add(n, ordering: .relaxed) }
    }

    @Test func theOldestSampleSinceAMarkIsFound() {
        let clock = Clock()
        let writes = RecentWrites { clock.seconds.load(ordering: .relaxed) }
        writes.note(oldest: 50_000)  // before the mark, in its second: not counted
        let mark = writes.mark()
        #expect(writes.oldestWritten(since: mark) == .max, "nothing written since")
        writes.note(oldest: 90_000)
        #expect(writes.oldestWritten(since: mark) == 90_000)
        clock.advance(7)
        writes.note(oldest: 70_000)
        let later = writes.mark()
        clock.advance(3)
        writes.note(oldest: 95_000)
        #expect(writes.oldestWritten(since: mark) == 70_000)
        #expect(writes.oldestWritten(since: later) == 95_000)
    }

    /// Past the commits kept one by one, seconds answer (the mark's own second whole); past
    /// the seconds kept, nothing does.
    @Test func beyondTheExactCommitsSecondsAnswerThenNothing() {
        let clock = Clock()
        let writes = RecentWrites { clock.seconds.load(ordering: .relaxed) }
        writes.note(oldest: 5)  // in the mark's second, before it
        let mark = writes.mark()
        writes.note(oldest: 10)
        clock.advance(1)
        for _ in 0..<RecentWrites.exact { writes.note(oldest: 1000) }
        #expect(writes.oldestWritten(since: mark) == 5, "the mark's second counts whole")
        clock.advance(Int64(RecentWrites.span) - 3)
        #expect(writes.oldestWritten(since: mark) == 5)
        clock.advance(Int64(RecentWrites.span))
        writes.note(oldest: 20)
        #expect(writes.oldestWritten(since: mark) == nil)
    }

    @Test func aClockThatGoesBackDoesNotHideWrites() {
        let clock = Clock()
        let writes = RecentWrites { clock.seconds.load(ordering: .relaxed) }
        clock.advance(100)
        let mark = writes.mark()
        clock.advance(-50)
        for _ in 0...RecentWrites.exact { writes.note(oldest: 30) }
        #expect(writes.oldestWritten(since: mark) == 30)
    }
}
