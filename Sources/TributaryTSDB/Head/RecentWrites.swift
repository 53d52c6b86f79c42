import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The oldest sample timestamp of each recent commit, so a results cache can tell exactly
/// which of its steps a later write may have changed: a sample at `t` changes no step before
/// `t`. A dashboard refreshed while its agents keep writing then recomputes only the steps from
/// the oldest sample that arrived since its last answer (the scrape and send delay, seconds)
/// instead of a fixed age.
///
/// The last ``exact`` commits are kept one by one; beyond them, the oldest sample of each of the
/// last ``span`` seconds (a mark's own second then counts whole, which only errs towards
/// recomputing).
///
/// Ordering: a commit notes its samples after it applied them, and a reader takes its
/// ``mark()`` before it reads; both under one lock, on one clock that never goes back. A commit
/// noted before the mark had its samples visible to the reader; one noted after is after it in
/// sequence and in time.
public final class RecentWrites: Sendable {
    /// Commits remembered one by one.
    public static let exact = 4096
    /// Seconds remembered; a mark older than this can no longer be answered.
    public static let span = 1024

    /// A point to ask ``oldestWritten(since:)`` about.
    public struct Mark: Sendable, Equatable {
        let sequence: UInt64
        let second: Int64
    }

    struct State {
        var sequence: UInt64 = 0
        var latest: Int64 = 0
        /// The oldest timestamp of commit `n` at `n % exact`.
        var commits: [Int64] = Array(repeating: .max, count: RecentWrites.exact)
        var second: [Int64] = Array(repeating: -1, count: RecentWrites.span)
        var oldest: [Int64] = Array(repeating: .max, count: RecentWrites.span)
    }

    private let state = Mutex(State())
    private let clock: @Sendable () -> Int64

    /// `clock`: seconds on a clock that only moves forward (monotonic by default).
    public init(clock: @escaping @Sendable () -> Int64 = RecentWrites.monotonicSeconds) {
        self.clock = clock
    }

    /// Records that samples as old as `timestamp` were just stored.
    func note(oldest timestamp: Int64) {
        let now = clock()
        state.withLock { s in
            s.sequence += 1
            s.commits[Int(s.sequence % UInt64(Self.exact))] = timestamp
            let second = max(now, s.latest)
            s.latest = second
            let i = Int(second % Int64(Self.span))
            if s.second[i] != second {
                s.second[i] = second
                s.oldest[i] = timestamp
            } else {
                s.oldest[i] = min(s.oldest[i], timestamp)
            }
        }
    }

    /// A point to ask ``oldestWritten(since:)`` about later; take it before reading.
    public func mark() -> Mark {
        let now = clock()
        return state.withLock { s in
            s.latest = max(now, s.latest)
            return Mark(sequence: s.sequence, second: s.latest)
        }
    }

    /// The oldest sample timestamp stored since `mark` (`Int64.max` when nothing was), or nil
    /// when the mark is too old to tell.
    public func oldestWritten(since mark: Mark) -> Int64? {
        let now = clock()
        return state.withLock { s -> Int64? in
            var oldest = Int64.max
            if s.sequence - mark.sequence < UInt64(Self.exact) {
                var n = mark.sequence
                while n < s.sequence {
                    n += 1
                    oldest = min(oldest, s.commits[Int(n % UInt64(Self.exact))])
                }
                return oldest
            }
            let latest = max(now, s.latest)
            guard latest - mark.second < Int64(Self.span) - 1 else { return nil }
            for second in mark.second...latest {
                let i = Int(second % Int64(Self.span))
                if s.second[i] == second { oldest = min(oldest, s.oldest[i]) }
            }
            return oldest
        }
    }

    @Sendable public static func monotonicSeconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec)
    }
}
