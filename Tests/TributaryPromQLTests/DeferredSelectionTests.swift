import Foundation
import Synchronization
import Testing
import TributaryModel
import TributaryPromQL
import TributaryTSDB

/// The engine reads series deferred (each when it is computed); when the storage reports that
/// data moved under such a read (a head truncated into a block), the query runs once more with
/// every series read first, and answers as if nothing had happened. Other storage errors fail
/// the query as before.
@Suite struct DeferredSelectionTests {
    /// The head's series, whose deferred reads fail with `error` (as a truncation makes them).
    final class MovingStorage: Querier, @unchecked Sendable {
        let head: HeadQuerier
        let error: QueryError
        /// Seconds the first deferred read takes before it fails.
        let delay: Double
        let deferredSelects = Atomic<Int>(0)
        let eagerSelects = Atomic<Int>(0)

        init(_ head: HeadQuerier, failingWith error: QueryError, after delay: Double = 0) {
            self.head = head
            self.error = error
            self.delay = delay
        }

        final class Failing: SelectedSeries {
            let count: Int
            let error: QueryError
            let delay: Double
            init(count: Int, error: QueryError, delay: Double) {
                self.count = count
                self.error = error
                self.delay = delay
            }
            func take(_ i: Int) throws(QueryError) -> QueriedSeries? {
                if i == 0, delay > 0 { Thread.sleep(forTimeInterval: delay) }
                throw error
            }
        }

        func selectDeferred(_ matchers: [Matcher], start: Int64, end: Int64, on runner: (any TaskRunner)?) throws(QueryError) -> any SelectedSeries {
            deferredSelects.add(1, ordering: .relaxed)
            return Failing(count: try head.selectDeferred(matchers, start: start, end: end, on: runner).count, error: error, delay: delay)
        }

        func selectUnsorted(_ matchers: [Matcher], start: Int64, end: Int64, on runner: (any TaskRunner)?) throws(QueryError) -> [QueriedSeries] {
            eagerSelects.add(1, ordering: .relaxed)
            return try head.selectUnsorted(matchers, start: start, end: end, on: runner)
        }

        func select(_ matchers: [Matcher], start: Int64, end: Int64) throws(QueryError) -> [QueriedSeries] {
            eagerSelects.add(1, ordering: .relaxed)
            return try head.select(matchers, start: start, end: end)
        }

        func labelNames(matching matchers: [Matcher], start: Int64, end: Int64, limit: Int) throws(QueryError) -> [String] { [] }
        func labelValues(_ name: String, matching matchers: [Matcher], start: Int64, end: Int64, limit: Int) throws(QueryError) -> [String] { [] }
        func cardinality(limit: Int) -> CardinalityStats { CardinalityStats() }
    }

    /// Options for the engine under test (deferred reads, the test pool) and for the answer
    /// it must give (every series read first).
    static func engineOptions() -> (deferred: EngineOptions, eager: EngineOptions) {
        var options = EngineOptions()
        options.workers = SeriesAtATimeTests.pool
        var eager = options
        eager.deferredSelection = false
        return (options, eager)
    }

    static let queries = ["sum by (group) (rate(c_total[5m]))", "max_over_time(g[10m])", "c_total", "topk(3, rate(c_total[5m]))"]

    @Test func aQueryTheStorageMovedDataUnderRunsAgainReadingFirst() throws {
        let head = try SeriesAtATimeTests.head()
        let (options, eager) = Self.engineOptions()
        for q in Self.queries {
            let storage = MovingStorage(head.querier(), failingWith: QueryError("moved", isRetryable: true))
            let (got, _) = try Engine(options: options).rangeQuery(q, start: 1_200_000, end: 7_000_000, step: 30_000, querier: storage)
            let (want, _) = try Engine(options: eager).rangeQuery(q, start: 1_200_000, end: 7_000_000, step: 30_000, querier: head.querier())
            #expect(storage.deferredSelects.load(ordering: .relaxed) == 1, "\(q): read deferred first")
            #expect(storage.eagerSelects.load(ordering: .relaxed) >= 1, "\(q): then eagerly")
            #expect(SeriesAtATimeTests.difference(got, want) == nil, "\(q)")
            if case .matrix(let m) = want { #expect(!m.isEmpty, "\(q): answers something") }
            // And an instant query.
            let instant = MovingStorage(head.querier(), failingWith: QueryError("moved", isRetryable: true))
            let (gotNow, _) = try Engine(options: options).instantQuery(q, at: 6_000_000, querier: instant)
            let (wantNow, _) = try Engine(options: eager).instantQuery(q, at: 6_000_000, querier: head.querier())
            #expect(instant.eagerSelects.load(ordering: .relaxed) >= 1, "\(q) instant: read again")
            #expect(SeriesAtATimeTests.difference(gotNow, wantNow) == nil, "\(q) instant")
        }
    }

    /// The run again gets what is left of the query's timeout, not a timeout of its own: a
    /// query whose deferred reads used it up times out instead of running as long again.
    @Test func theRunAgainKeepsTheQuerysDeadline() throws {
        let head = try SeriesAtATimeTests.head()
        var options = EngineOptions()
        options.timeout = 0.2
        let slow = MovingStorage(head.querier(), failingWith: QueryError("moved", isRetryable: true), after: 0.3)
        let error = #expect(throws: EvaluationError.self) {
            _ = try Engine(options: options).rangeQuery("rate(c_total[5m])", start: 1_200_000, end: 7_000_000, step: 30_000, querier: slow)
        }
        #expect(error?.kind == .timeout, "\(String(describing: error))")
        #expect(slow.eagerSelects.load(ordering: .relaxed) == 0, "not run again")
        // With time left, the same storage's query runs again and answers.
        options.timeout = 5
        let quick = MovingStorage(head.querier(), failingWith: QueryError("moved", isRetryable: true), after: 0.05)
        let (value, _) = try Engine(options: options).rangeQuery("rate(c_total[5m])", start: 1_200_000, end: 7_000_000, step: 30_000, querier: quick)
        if case .matrix(let m) = value { #expect(!m.isEmpty) } else { Issue.record("not a matrix") }
    }

    @Test func otherStorageErrorsFailTheQuery() throws {
        let head = try SeriesAtATimeTests.head()
        let storage = MovingStorage(head.querier(), failingWith: QueryError("chunk checksum mismatch"))
        let error = #expect(throws: EvaluationError.self) {
            _ = try Engine().rangeQuery("rate(c_total[5m])", start: 1_200_000, end: 7_000_000, step: 30_000, querier: storage)
        }
        #expect(error?.message == "chunk checksum mismatch")
        #expect(storage.eagerSelects.load(ordering: .relaxed) == 0, "not run again")
    }

    /// The head's series, counting how each deferred series is read.
    final class CountingStorage: Querier, @unchecked Sendable {
        let head: HeadQuerier
        let whole = Atomic<Int>(0)
        let newest = Atomic<Int>(0)

        init(_ head: HeadQuerier) { self.head = head }

        final class Counted: SelectedSeries {
            let base: any SelectedSeries
            let storage: CountingStorage
            init(_ base: any SelectedSeries, _ storage: CountingStorage) {
                self.base = base
                self.storage = storage
            }
            var count: Int { base.count }
            func take(_ i: Int) throws(QueryError) -> QueriedSeries? {
                storage.whole.add(1, ordering: .relaxed)
                return try base.take(i)
            }
            func read(_ i: Int, appendingTo out: inout [Sample]) throws(QueryError) -> Labels? {
                storage.whole.add(1, ordering: .relaxed)
                return try base.read(i, appendingTo: &out)
            }
            func readNewest(_ i: Int, appendingTo out: inout [Sample]) throws(QueryError) -> Labels? {
                storage.newest.add(1, ordering: .relaxed)
                return try base.readNewest(i, appendingTo: &out)
            }
        }

        func selectDeferred(_ matchers: [Matcher], start: Int64, end: Int64, on runner: (any TaskRunner)?) throws(QueryError) -> any SelectedSeries {
            Counted(try head.selectDeferred(matchers, start: start, end: end, on: runner), self)
        }

        func select(_ matchers: [Matcher], start: Int64, end: Int64) throws(QueryError) -> [QueriedSeries] {
            try head.select(matchers, start: start, end: end)
        }

        func labelNames(matching matchers: [Matcher], start: Int64, end: Int64, limit: Int) throws(QueryError) -> [String] { [] }
        func labelValues(_ name: String, matching matchers: [Matcher], start: Int64, end: Int64, limit: Int) throws(QueryError) -> [String] { [] }
        func cardinality(limit: Int) -> CardinalityStats { CardinalityStats() }
    }

    /// An instant selector whose steps all read at one time (one step, or `@`) asks for each
    /// series' newest sample alone; one read at several times, and range functions, read the
    /// whole window. Either way the answer is that of reading every sample first (stale
    /// markers and NaN values included: the data ends in a stale marker for some series).
    @Test func selectorsAtOneTimeReadTheNewestSampleAlone() throws {
        let head = try SeriesAtATimeTests.head()
        let (options, eager) = Self.engineOptions()
        // (query, the instant query's time or nil for the range query below, newest alone)
        let cases: [(String, Int64?, Bool)] = [
            ("c_total", 7_210_000, true), ("g", 7_210_000, true), ("g", 3_000_000, true), ("2 * g - g", 7_205_000, true),
            ("g", nil, false), ("g @ 7000", nil, true), ("c_total @ 3000 offset 1m", nil, true),
            ("rate(c_total[5m])", 7_210_000, false)
        ]
        for (q, at, alone) in cases {
            let storage = CountingStorage(head.querier())
            let got: Result<(QueryValue, Annotations), any Error>
            let want: Result<(QueryValue, Annotations), any Error>
            if let at {
                got = Result { try Engine(options: options).instantQuery(q, at: at, querier: storage) }
                want = Result { try Engine(options: eager).instantQuery(q, at: at, querier: head.querier()) }
            } else {
                got = Result { try Engine(options: options).rangeQuery(q, start: 1_200_000, end: 7_000_000, step: 30_000, querier: storage) }
                want = Result { try Engine(options: eager).rangeQuery(q, start: 1_200_000, end: 7_000_000, step: 30_000, querier: head.querier()) }
            }
            let (whole, newest) = (storage.whole.load(ordering: .relaxed), storage.newest.load(ordering: .relaxed))
            #expect(alone ? whole == 0 && newest > 0 : whole > 0 && newest == 0, "\(q): \(whole) whole reads, \(newest) of the newest alone")
            #expect(SeriesAtATimeTests.difference(got, want) == nil, "\(q)")
            if case .success((let value, _)) = want {
                switch value {
                case .vector(let v): #expect(!v.1.isEmpty, "\(q): answers something")
                case .matrix(let m): #expect(!m.isEmpty, "\(q): answers something")
                default: Issue.record("\(q): \(value)")
                }
            }
        }
    }
}
