import Foundation
import NIOCore
import Testing
import TributaryModel
import TributaryPromQL
import TributaryTSDB
import TributaryTestSupport
import TributaryWire

@testable import TributaryReceiver

#if canImport(Glibc)
    import Glibc
#endif

/// Large query answers go out while they are written: over HTTP the bytes (plain and gzip) equal
/// the answer written whole, they arrive in several chunks, and a client that leaves midway frees
/// its query thread at once instead of holding it until the timeout.
@Suite struct StreamedAnswerTests {
    static let range = "query=big&start=0&end=3600&step=15"

    /// 2,000 series × 241 steps of fractional values: ~15 MB of JSON.
    static func server(maxConcurrency: Int = 20, series: Int = 2000, cache: Bool = false, parallelism: Int = 0) async throws -> TestServer {
        let server = try await TestServer { c in
            c.queryMaxConcurrency = maxConcurrency
            c.queryParallelism = parallelism
            c.queryResultsCache = cache
            c.head.outOfOrderWindow = 3_600_000
        }
        _ = try server.receiver.head.commit { b in
            for i in 0..<series {
                let labels = Labels(sortedPairs: [("__name__", "big"), ("instance", "host-\(i)")])
                for t in stride(from: Int64(0), through: 3_600_000, by: 15_000) {
                    if i == 7, (1_500_000...1_590_000).contains(t) { continue }  // a gap, filled late by one test
                    // With the cache, values with the entropy of real gauges (runs of them are worth
                    // compressing once); otherwise ones that compress well.
                    let value = cache ? Double((UInt64(i) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(t) &* 0xBF58_476D_1CE4_E5B9) % 1_000_000_007) / 997 : Double(i) / 7 + Double(t) / 1e9
                    _ = b.append(labels, Sample(timestamp: t, value: value))
                }
            }
        }
        return server
    }

    /// A server with the results cache holding `series` series `name{instance="host-i"}`
    /// with a sample every `every` ms over the first hour, valued `value(i, t)`.
    static func cachedServer(_ name: String, series: Int, every: Int, _ value: (Int, Int64) -> Double) async throws -> TestServer {
        let server = try await TestServer { c in c.queryResultsCache = true }
        _ = try server.receiver.head.commit { b in
            for i in 0..<series {
                let labels = Labels(sortedPairs: [("__name__", name), ("instance", "host-\(i)")])
                for t in stride(from: Int64(0), through: 3_600_000, by: every) { _ = b.append(labels, Sample(timestamp: t, value: value(i, t))) }
            }
        }
        return server
    }

    /// A range query's answer with `Accept-Encoding: gzip`: its headers and its whole body,
    /// streamed or not.
    /// Whether `needle` occurs in `haystack`.
    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, needle.count <= haystack.count else { return needle.isEmpty }
        var i = 0
        while i + needle.count <= haystack.count {
            if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }

    static func gzipAnswer(_ server: TestServer, _ query: String) async -> (headers: [(String, String)], body: [UInt8]) {
        let answer = await server.receiver.queryAPI("query_range", query: query, form: nil, gzip: true)
        guard let stream = answer.stream else { return (answer.headers, answer.body) }
        var body: [UInt8] = []
        while let chunk = await stream.next() { body += chunk.readableBytesView }
        return (answer.headers, body)
    }

    /// `window` asked as a dashboard does (gzip, through the cache): its headers, its size
    /// compressed and its JSON inflated, beside the same query's uncached answer.
    static func refresh(_ server: TestServer, _ window: String) async throws -> (headers: [(String, String)], bytes: Int, inflated: [UInt8], uncached: [UInt8]) {
        let (headers, body) = await gzipAnswer(server, window)
        let uncached = server.receiver.api("query_range", query: window + "&nocache=1", form: nil).body
        return (headers, body.count, try Gunzip.inflate(body, limit: 1 << 26), uncached)
    }

    /// `window` refreshed as a dashboard does, expected to inflate to the uncached answer
    /// (`what` names it in the failure); its JSON inflated.
    static func refreshAsUncached(_ server: TestServer, _ window: String, _ what: String) async throws -> [UInt8] {
        let (_, _, inflated, uncached) = try await refresh(server, window)
        let same = inflated == uncached
        #expect(same, "\(what): \(inflated.count) bytes inflated, \(uncached.count) uncached")
        return inflated
    }

    @Test func streamedBytesEqualTheWholeAnswer() async throws {
        let server = try await Self.server()
        defer { server.removeData() }
        let whole = server.receiver.api("query_range", query: Self.range, form: nil).body
        #expect(whole.count > 8 * JSONWriter.chunkSize, "a big answer: \(whole.count) bytes")
        // The API formats a large matrix on the query's helper threads: the same bytes as
        // formatted series after series on one.
        #expect(server.receiver.engine.options.workers != nil, "the parallel path is the one under test")
        let (value, _) = try server.receiver.engine.rangeQuery(
            try Parser.parse("big"), start: 0, end: 3_600_000, step: 15_000, querier: server.receiver.db.querier())
        var sequential = JSONWriter()
        sequential.raw("{\"status\":\"success\",\"data\":")
        server.receiver.write(value, workers: nil, &sequential)
        sequential.raw("}")
        let sequentialSame = sequential.bytes == whole
        #expect(sequentialSame, "formatted on several threads: \(whole.count) bytes, on one: \(sequential.bytes.count)")

        // In process: the answer comes back before the query thread has written it all.
        let answer = await server.receiver.queryAPI("query_range", query: Self.range, form: nil)
        let stream = try #require(answer.stream, "a large answer is streamed")
        #expect(answer.body.isEmpty && answer.headers.contains { $0 == ("Content-Type", "application/json") })
        var chunks = 0
        var joined: [UInt8] = []
        while let chunk = await stream.next() {
            chunks += 1
            joined += chunk.readableBytesView
        }
        #expect(chunks > 8, "sent in chunks: \(chunks)")
        // Compared outside #expect: on a mismatch it would diff two 15 MB arrays for hours.
        let streamedSame = joined == whole
        #expect(streamedSame, "streamed bytes equal the answer written whole (\(joined.count) of \(whole.count) bytes)")

        // Over HTTP, chunked, plain and gzip.
        let plain = try await curl(["http://127.0.0.1:\(server.port)/api/v1/query_range?\(Self.range)"])
        let plainSame = plain.body == whole
        #expect(plainSame, "over HTTP: \(plain.body.count) of \(whole.count) bytes")
        #expect(plain.headers.lowercased().contains("transfer-encoding: chunked"), "\(plain.headers)")
        let zipped = try await curl(["-H", "Accept-Encoding: gzip", "http://127.0.0.1:\(server.port)/api/v1/query_range?\(Self.range)"])
        #expect(zipped.headers.lowercased().contains("content-encoding: gzip"))
        #expect(zipped.body.count * 3 < whole.count, "compressed: \(zipped.body.count) of \(whole.count)")
        let inflatedSame = try Gunzip.inflate(zipped.body, limit: 1 << 26) == whole
        #expect(inflatedSame, "gzip stream inflates to the answer")

        // Small answers and errors are still sent whole.
        let small = await server.receiver.queryAPI("query", query: "query=1&time=1", form: nil)
        #expect(small.stream == nil && !small.body.isEmpty)
        let bad = await server.receiver.queryAPI("query_range", query: "query=big&start=0&end=3600&step=0", form: nil)
        #expect(bad.stream == nil && bad.status == 400)
        await server.stop()
    }

    /// A dashboard refreshing a large answer with gzip gets the cached steps as runs compressed
    /// once: every refresh, its window moved by a step or by several runs, inflates to the
    /// uncached answer byte for byte; its parts made on the query's helper (parallelism 2) or
    /// in turn (1).
    @Test(arguments: [2, 1]) func refreshesSentAsCompressedRunsInflateToTheUncachedAnswer(parallelism: Int) async throws {
        let server = try await Self.server(series: 300, cache: true, parallelism: parallelism)
        defer { server.removeData() }
        #expect((server.receiver.engine.options.workers == nil) == (parallelism == 1))
        let cache = try #require(server.receiver.resultsCache)
        for (k, start) in [0, 15, 30, 45, 480, 495, 1200, 1200, 1215, -1, 1215].enumerated() {
            if start < 0 {
                // A late sample inside a compressed run: the run is compressed again.
                _ = try server.receiver.head.commit { b in
                    _ = b.append(Labels(sortedPairs: [("__name__", "big"), ("instance", "host-7")]), Sample(timestamp: 1_500_000, value: 1e9))
                }
                continue
            }
            let window = "query=big&start=\(start)&end=\(start + 2400)&step=15"
            let (headers, _, inflated, uncached) = try await Self.refresh(server, window)
            #expect(headers.contains { $0 == ("Content-Encoding", "gzip") })
            let same = inflated == uncached
            #expect(same, "window from \(start): \(inflated.count) bytes inflated, \(uncached.count) uncached")
            // Short runs are 32 steps on the grid from 0: four lie inside windows from 15, 30
            // and 45, compressed at the first refresh and reused by the next two.
            let short = cache.compressedRuns(steps: CachedFragments.steps)
            if [15, 30, 45].contains(start) { #expect(short == 300 * 4, "window from \(start)") }
            // Asked again from 1200: the four runs inside it (from 1440 to 3345) are kept, not
            // those from 480 and 960 that earlier windows sent.
            if k == 7 { #expect(short == 300 * 4, "window from 1200, again") }
        }
        await server.stop()
    }

    /// Series that compress well (counters: a few digits a step) make short runs too small to
    /// keep, so a long window of them is sent in long runs where one fits: the refreshes inflate
    /// to the uncached answer, send each series' long run as compressed once, and stay near
    /// the size of the answer compressed whole.
    @Test func compressibleSeriesAreSentInLongRuns() async throws {
        let server = try await Self.cachedServer("ctr", series: 100, every: 5_000) { i, t in Double(i * 1_000_000) + Double(t / 5_000) }
        defer { server.removeData() }
        let cache = try #require(server.receiver.resultsCache)
        let whole = await Self.gzipAnswer(server, "query=ctr&start=0&end=3000&step=5&nocache=1").body.count
        // Long runs are 256 steps (1,280 s) on the grid from 0: the one from 1,280 to 2,555 lies
        // in every window below; the short runs around it compress under the smallest kept.
        for start in [0, 5, 10, 165, 170] {
            let window = "query=ctr&start=\(start)&end=\(start + 3000)&step=5"
            let (_, bytes, inflated, uncached) = try await Self.refresh(server, window)
            #expect(inflated == uncached, "window from \(start)")
            if start > 0 {
                #expect(cache.compressedRuns(steps: CachedFragments.longSteps) == 100, "window from \(start)")
                #expect(bytes * 10 < whole * 15, "window from \(start): \(bytes) bytes, the answer compressed whole \(whole)")
            }
        }
        await server.stop()
    }

    /// A short run of a gauge of six digits compresses to ~165 bytes with its tables: it is kept,
    /// so a refresh compresses only the steps at the window's edges. (Under 256 bytes, as the
    /// bound was, such runs went in the stream and were compressed again by every refresh.)
    @Test func shortRunsOfSixDigitGaugesAreKept() async throws {
        let server = try await Self.cachedServer("six", series: 50, every: 15_000) { i, t in
            Double(100_000 + (i * 104_729 + Int(t / 15_000) * (i + 3) * 37) % 899_999)
        }
        defer { server.removeData() }
        let cache = try #require(server.receiver.resultsCache)
        let whole = await Self.gzipAnswer(server, "query=six&start=15&end=2415&step=15&nocache=1").body.count
        for start in [0, 15, 30] {
            let window = "query=six&start=\(start)&end=\(start + 2400)&step=15"
            let (_, bytes, inflated, uncached) = try await Self.refresh(server, window)
            #expect(inflated == uncached, "window from \(start)")
            guard start > 0 else { continue }
            // Runs of 32 steps (480 s) on the grid from 0: four lie inside the windows from 15
            // and 30, made at the first refresh and reused by the second.
            #expect(cache.compressedRuns(steps: CachedFragments.steps) == 50 * 4, "window from \(start)")
            #expect(bytes * 10 < whole * 15, "window from \(start): \(bytes) bytes, the answer compressed whole \(whole)")
        }
        await server.stop()
    }

    /// Series with steps missing from their answers are sent in runs too: a run holds the
    /// steps up to its last, not as many as it would hold without the gap. A window whose end
    /// moves a step at a time past a gap, after a run kept from before the gap, inflates to the
    /// uncached answer at every step (with a run's steps counted from its first, steps after
    /// the gap went into the run, then missed from the next refresh).
    @Test func seriesWithMissingStepsAreSentInRunsRight() async throws {
        let server = try await TestServer { c in c.queryResultsCache = true }
        defer { server.removeData() }
        _ = try server.receiver.head.commit { b in
            for i in 0..<30 {
                let labels = Labels(sortedPairs: [("__name__", "gappy"), ("instance", "host-\(i)")])
                for t in stride(from: Int64(0), through: 3_600_000, by: 15_000) {
                    // A third stop from 1,380 s to 1,900 s, a third every other 10 minutes.
                    if i % 3 == 0, (1_380_000..<1_900_000).contains(t) { continue }
                    if i % 3 == 1, t / 600_000 % 2 == 1 { continue }
                    // Values with the entropy of real gauges, so that their rates' runs are kept.
                    let value = Double((UInt64(i) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(t) &* 0xBF58_476D_1CE4_E5B9) % 1_000_000_007) / 997
                    _ = b.append(labels, Sample(timestamp: t, value: value))
                }
            }
        }
        let cache = try #require(server.receiver.resultsCache)
        // `rate(...[1m])` has no value where a minute holds fewer than two samples (the lookback
        // would fill a selector's gap with one repeated value, which compresses too well to be
        // kept as a run). The run [960, 1425] ends two steps into the first gap, and the windows
        // ending at 1,920 s and later are the first to hold steps after it.
        let windows = [(0, 2400), (15, 2415), (480, 2880)] + stride(from: 1890, through: 1980, by: 15).map { ($0 - 1800, $0) }
        for (start, end) in windows {
            let window = "query=rate(gappy%5B1m%5D)&start=\(start)&end=\(end)&step=15"
            let (_, _, inflated, uncached) = try await Self.refresh(server, window)
            let same = inflated == uncached
            #expect(same, "window from \(start) to \(end): \(inflated.count) bytes inflated, \(uncached.count) uncached")
        }
        #expect(cache.compressedRuns(steps: CachedFragments.steps) > 0, "the series are sent in runs")
        await server.stop()
    }

    /// At the window's edges, where a short run lies partly outside it, the steps go as edge
    /// runs of 8 kept compressed, so a refresh compresses under 8 steps at each end. A window
    /// moving one step at a time inflates to the uncached answer at every step, and holds at
    /// most the edge runs that lie inside it after the series' first step, none inside a short
    /// run kept compressed. (Fewer where the series' joined runs hold them: those are sent,
    /// and the edge runs inside them dropped beside a short run are not made again.)
    @Test func edgeRunsAreSentAsTheWindowMovesAStepAtATime() async throws {
        // Values of 17 significant digits and an exponent: 8 steps mostly compress to over 128
        // bytes.
        let server = try await Self.cachedServer("edge", series: 20, every: 15_000) { i, t in
            let bits = UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(t) &* 0xBF58_476D_1CE4_E5B9
            return Double(bits % 1_000_000_007) * pow(10, Double(Int((bits >> 40) % 64) % 40 - 20)) / 997
        }
        defer { server.removeData() }
        let cache = try #require(server.receiver.resultsCache)
        // Edge runs are 120 s on the grid from 0, short runs 480 s; windows are 2,400 s.
        func edgeRuns(_ start: Int64) -> Int {
            let end = start + 2400
            let first = start / 480 * 480
            // (One that starts at the window's first step is not sent, that step's comma being
            // dropped, but the windows before made it and it is held while it lies inside.)
            let atStart = stride(from: first + 120, to: first + 480, by: 120).filter { $0 >= start }.count
            let last = end / 480 * 480
            let atEnd = last + 465 == end ? 0 : stride(from: last, to: last + 480, by: 120).filter { $0 + 105 <= end }.count
            return atStart + atEnd
        }
        var kept = 0
        var made = 0
        for start in stride(from: Int64(0), through: 1_005, by: 15) {
            let window = "query=edge&start=\(start)&end=\(start + 2400)&step=15"
            _ = try await Self.refreshAsUncached(server, window, "window from \(start)")
            guard start > 0 else { continue }
            // Asked again: the runs that the last answer made beside a short run it kept are
            // dropped, and nothing is made.
            _ = try await Self.refreshAsUncached(server, window, "window from \(start), again")
            let held = cache.compressedRuns(steps: CachedFragments.edgeSteps, plain: true)
            #expect(held <= 20 * edgeRuns(start), "window from \(start): \(held) edge runs held")
            kept += cache.compressedRuns(steps: CachedFragments.edgeSteps)
            made += cache.compressedRuns(steps: CachedFragments.edgeSteps, plain: true)
        }
        // Most compress to enough bytes to be sent as they were kept (the rest go as JSON).
        #expect(made > 20 * 40 && kept * 3 > made * 2, "\(kept) of \(made) kept compressed")
        #expect(edgeRuns(15) == 3 && edgeRuns(120) == 4 && edgeRuns(465) == 0 && edgeRuns(480) == 3, "the count itself")
        await server.stop()
    }

    /// The runs a series sends in a row are kept joined and sent as one while they lie in the
    /// window: a window moving a step at a time inflates to the uncached answer at every step,
    /// each series' joined runs start inside the window and change only where an edge of the
    /// window crosses a run's border (every 8 steps at either end, so at most twice in 8
    /// refreshes), and a late sample inside them drops them.
    @Test func runsSentInARowAreJoined() async throws {
        // host-7 has no samples from 2,640 s to 2,700 s: the late one goes there.
        let server = try await TestServer { c in
            c.queryResultsCache = true
            c.head.outOfOrderWindow = 3_600_000
        }
        defer { server.removeData() }
        _ = try server.receiver.head.commit { b in
            for i in 0..<20 {
                let labels = Labels(sortedPairs: [("__name__", "joined"), ("instance", "host-\(i)")])
                for t in stride(from: Int64(0), through: 3_600_000, by: 15_000) where i != 7 || !(2_640_000..<2_700_000).contains(t) {
                    let bits = UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(t) &* 0xBF58_476D_1CE4_E5B9
                    _ = b.append(labels, Sample(timestamp: t, value: Double(bits % 1_000_000_007) / 997))
                }
            }
        }
        let cache = try #require(server.receiver.resultsCache)
        var before: [Labels: ClosedRange<Int64>] = [:]
        var changes = 0
        var refreshes = 0
        for start in stride(from: Int64(0), through: 600, by: 15) {
            _ = try await Self.refreshAsUncached(server, "query=joined&start=\(start)&end=\(start + 2400)&step=15", "window from \(start)")
            let joined = cache.joinedRuns()
            guard start >= 30 else {
                before = joined
                continue
            }
            #expect(joined.count == 20, "window from \(start): \(joined.count) series hold joined runs")
            for (labels, steps) in joined {
                #expect(steps.lowerBound > start * 1000 && steps.upperBound <= (start + 2400) * 1000, "window from \(start): \(steps)")
                #expect(steps.count > 100_000 * 15, "window from \(start): \(steps) holds more than one run")
                if let old = before[labels], old != steps { changes += 1 }
            }
            refreshes += 1
            before = joined
        }
        // (Plus one each at the start: the first refresh made the runs at its window's start
        // after the steps it had sent as JSON.)
        #expect(changes > 0 && changes <= 20 * (refreshes * 2 / 8 + 2), "\(changes) changes of the joined runs in \(refreshes) refreshes of 20 series")
        // Sent by every refresh but those whose window just left their first step (one in 8).
        let sends = cache.joinedSends()
        #expect(sends * 4 >= refreshes * 20 * 3, "joined runs sent \(sends) times in \(refreshes) refreshes of 20 series")
        // A late sample inside the joined runs of host-7: its steps are computed again, its
        // joined runs dropped, and the next refresh is still the uncached answer.
        let host7 = Labels(sortedPairs: [("__name__", "joined"), ("instance", "host-7")])
        let late = try #require(cache.joinedRuns()[host7])
        #expect(late.contains(2_655_000))
        _ = try server.receiver.head.commit { b in _ = b.append(host7, Sample(timestamp: 2_650_000, value: 4242.25)) }
        for start in [615, 630] {
            let inflated = try await Self.refreshAsUncached(server, "query=joined&start=\(start)&end=\(start + 2400)&step=15", "window from \(start), after a late sample")
            #expect(Self.contains(inflated, Array("\"4242.25\"".utf8)), "window from \(start): the late sample is in the answer")
        }
        await server.stop()
    }

    /// Edge runs of a series sent in runs are kept compressed down to 64 bytes, not the 128 of
    /// other runs: ratios of 17 digits make 8-step runs of 90-130 bytes, and those under 128
    /// went in the answer with the steps around them, compressed again by every refresh. Each
    /// such series (all but the answer's first) opens with its opening kept compressed, and
    /// every refresh inflates to the uncached answer.
    @Test func edgeRunsOfSeriesSentInRunsAreKeptDownTo64Bytes() async throws {
        let server = try await Self.cachedServer("ratio", series: 100, every: 15_000) { i, t in
            Double(i + 1) * 4.2e-6 / (1 + Double(t) / 3.6e8)
        }
        defer { server.removeData() }
        let cache = try #require(server.receiver.resultsCache)
        for start: Int64 in [0, 15, 30, 45, 495, 510, 600, 615] {
            let window = "query=ratio&start=\(start)&end=\(start + 2400)&step=15"
            let (_, _, inflated, uncached) = try await Self.refresh(server, window)
            let same = inflated == uncached
            #expect(same, "window from \(start): \(inflated.count) bytes inflated, \(uncached.count) uncached")
            if start == 15 {
                // The first refresh that makes runs makes the edge runs at its window's start
                // before the short runs after them; those too are sent compressed from the next
                // refresh on (they went as JSON until the window left them).
                let made = cache.compressedRuns(steps: CachedFragments.edgeSteps, plain: true)
                #expect(made > 0 && cache.compressedRuns(steps: CachedFragments.edgeSteps) == made, "\(made) edge runs made by the first refresh")
            }
        }
        let made = cache.compressedRuns(steps: CachedFragments.edgeSteps, plain: true)
        #expect(made > 0)
        #expect(cache.compressedRuns(steps: CachedFragments.edgeSteps) == made, "every edge run made is kept compressed")
        #expect(cache.keptOpenings() == 99)
        // Those kept short (64-127 bytes) are in the answer as they were kept.
        let short = cache.shortEdgeRuns()
        let answer = await Self.gzipAnswer(server, "query=ratio&start=615&end=3015&step=15").body
        let sent = short.filter { Self.contains(answer, $0) }.count
        #expect(short.count > 50 && sent == short.count, "\(sent) of \(short.count) short edge runs sent as kept")
        await server.stop()
    }

    /// Series not sent in runs (their short runs compress to under 128 bytes) keep the bound of
    /// 128 for their edge runs too, so that their steps still share the stream: gauges of a
    /// few digits repeating every 4 steps make edge runs of 64-127 bytes, and almost none is
    /// kept (all would be at 64).
    @Test func edgeRunsOfSeriesNotSentInRunsKeepTheBoundOf128() async throws {
        let server = try await Self.cachedServer("cycle", series: 100, every: 15_000) { i, t in
            Double(1_000 + (i * 7_919 + Int(t / 15_000) % 4 * 104_729) % 1_000_003)
        }
        defer { server.removeData() }
        let cache = try #require(server.receiver.resultsCache)
        for start: Int64 in [0, 15, 30, 45, 495, 510, 600, 615] {
            let window = "query=cycle&start=\(start)&end=\(start + 2400)&step=15"
            let (_, _, inflated, uncached) = try await Self.refresh(server, window)
            #expect(inflated == uncached, "window from \(start)")
        }
        let shortKept = cache.compressedRuns(steps: CachedFragments.steps)
        #expect(shortKept * 10 < cache.compressedRuns(steps: CachedFragments.steps, plain: true), "few series are sent in runs")
        let edgeMade = cache.compressedRuns(steps: CachedFragments.edgeSteps, plain: true)
        #expect(edgeMade > 0)
        #expect(cache.compressedRuns(steps: CachedFragments.edgeSteps) * 10 < edgeMade, "\(edgeMade) edge runs made")
        // Their edge runs of 64-127 bytes are kept, but go in the answer as JSON.
        let short = cache.shortEdgeRuns(inRuns: false)
        let answer = await Self.gzipAnswer(server, "query=cycle&start=615&end=3015&step=15").body
        let sent = short.filter { Self.contains(answer, $0) }.count
        #expect(short.count > 50 && sent == 0, "\(sent) of \(short.count) short edge runs sent as kept")
        await server.stop()
    }

    /// Short runs made while a long run was still partly ahead of the window are dropped once
    /// that long run is sent compressed (else a series' middle was held twice).
    @Test func shortRunsInsideAKeptLongRunAreDropped() async throws {
        let server = try await Self.cachedServer("gauge", series: 50, every: 5_000) { i, t in
            Double((UInt64(i) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(t) &* 0xBF58_476D_1CE4_E5B9) % 1_000_000_007) / 997
        }
        defer { server.removeData() }
        let cache = try #require(server.receiver.resultsCache)
        // Long runs from 1,280 to 2,555 s; short runs every 160 s.
        for start in [0, 5, 160, 165] {
            let window = "query=gauge&start=\(start)&end=\(start + 2400)&step=5"
            let (_, _, inflated, uncached) = try await Self.refresh(server, window)
            #expect(inflated == uncached, "window from \(start)")
        }
        // The window from 165: six short runs from 320 to 1,275 and the long run; the seven short
        // ones from 1,280 to 2,395 that the window from 5 made are gone.
        #expect(cache.compressedRuns(steps: CachedFragments.longSteps) == 50)
        #expect(cache.compressedRuns(steps: CachedFragments.steps) == 50 * 6)
        await server.stop()
    }

    /// Series that repeat each other compress far better as one stream than as runs compressed
    /// one by one: their refreshes are sent compressed whole, not several times larger.
    @Test func repetitiveAnswersAreNotSentAsRuns() async throws {
        let server = try await Self.cachedServer("flat", series: 300, every: 15_000) { _, _ in 1 }
        defer { server.removeData() }
        func gzipBytes(_ query: String) async -> Int { await Self.gzipAnswer(server, query).body.count }
        let whole = await gzipBytes("query=flat&start=0&end=2400&step=15&nocache=1")
        _ = await gzipBytes("query=flat&start=0&end=2400&step=15")
        let refreshed = await gzipBytes("query=flat&start=15&end=2415&step=15")
        #expect(refreshed * 10 < whole * 13, "refresh \(refreshed) bytes, the answer compressed whole \(whole)")
        // Not sent in runs: no opening or edge run kept compressed.
        let cache = try #require(server.receiver.resultsCache)
        #expect(cache.keptOpenings() == 0 && cache.compressedRuns(steps: CachedFragments.edgeSteps) == 0)
        await server.stop()
    }

    @Test func aClientThatLeavesFreesItsQueryThread() async throws {
        // One query thread: the second query runs only once the first has let go of it.
        let server = try await Self.server(maxConcurrency: 1)
        defer { server.removeData() }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(server.port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected == 0)
        let request = "GET /api/v1/query_range?\(Self.range) HTTP/1.1\r\nHost: x\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        // Read the start of the answer, then stop reading and leave (the body is ~15 MB:
        // the query thread is blocked on a full stream by now).
        var buffer = [UInt8](repeating: 0, count: 65536)
        let got = recv(fd, &buffer, buffer.count, 0)
        #expect(got > 0 && String(decoding: buffer[0..<max(got, 0)], as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        try await Task.sleep(for: .milliseconds(300))
        close(fd)

        let started = ContinuousClock.now
        let next = await server.receiver.queryAPI("query", query: "query=count(big)&time=3600", form: nil)
        let waited = ContinuousClock.now - started
        #expect(next.status == 200)
        #expect(waited < .seconds(10), "the abandoned query let go of the only query thread: waited \(waited)")
        await server.stop()
    }

    /// curl's answer, run off the cooperative pool: a test that blocks a pool thread while the
    /// server it waits on needs the pool (its accept loop runs there) can stall the whole run.
    func curl(_ args: [String]) async throws -> (headers: String, body: [UInt8]) {
        try await offPool { try Self.blockingCurl(args) }
    }

    static func blockingCurl(_ args: [String]) throws -> (headers: String, body: [UInt8]) {
        let headers = NSTemporaryDirectory() + "tributary-curl-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: headers) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-sS", "--max-time", "60", "-D", headers] + args
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let body = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw TestError("curl failed with \(p.terminationStatus)") }
        return ((try? String(contentsOfFile: headers, encoding: .utf8)) ?? "", Array(body))
    }
}
