import Foundation
import Testing
import TributaryModel
import TributaryTSDB

@testable import TributaryReceiver

/// The range-query results cache: a dashboard whose window moves forward is answered from
/// cached steps plus new ones, and every answer equals the uncached one (`nocache=1`), also
/// after samples arrive late into cached steps (out of order, or a new series' backlog).
@Suite struct ResultsCacheTests {
    static let queries = [
        "sum by (g) (rate(x[5m]))", "count_over_time(x[5m])", "x", "topk(1, x)", "time()", "scalar(sum(x))",
        "max_over_time(sum(x)[10m:1m])"
    ]

    func receiver(_ dir: String, cacheMaxPoints: Int? = nil) throws -> Receiver {
        var c = ReceiverConfiguration()
        c.dataDirectory = dir
        c.head.outOfOrderWindow = 3 * 3600 * 1000
        if let cacheMaxPoints { c.queryResultsCacheMaxPoints = cacheMaxPoints }
        return try Receiver(configuration: c)
    }

    /// The answer's body, and the same query's with `nocache=1`.
    func answers(_ r: Receiver, _ q: String, start: Int64, end: Int64) -> (String, String) {
        let query = "query=\(q.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")&start=\(Double(start) / 1000)&end=\(Double(end) / 1000)&step=15"
        let cached = r.api("query_range", query: query, form: nil)
        let uncached = r.api("query_range", query: query + "&nocache=1", form: nil)
        return (String(decoding: cached.body, as: UTF8.self), String(decoding: uncached.body, as: UTF8.self))
    }

    func hits(_ r: Receiver) -> Int {
        let text = String(decoding: r.metricsText().body, as: UTF8.self)
        let line = text.split(separator: "\n").first { $0.hasPrefix("tributary_query_results_cache_requests_total{result=\"hit\"}") }
        return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? -1
    }

    func gauge(_ r: Receiver, _ name: String) -> Double? {
        let text = String(decoding: r.metricsText().body, as: UTF8.self)
        let line = text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test func movedWindowsAndLateWritesAnswerAsUncached() throws {
        let dir = NSTemporaryDirectory() + "tributary-cache-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try receiver(dir)
        let now = Int64(Date().timeIntervalSince1970) * 1000 / 15_000 * 15_000
        _ = try r.head.commit { b in
            for i in 0..<6 {
                var t = now - 2 * 3600 * 1000
                while t <= now {
                    if !(i == 2 && t % 600_000 < 60_000) {  // a series with a hole every 10 min
                        _ = b.append(["__name__": "x", "g": "g\(i % 2)", "i": "\(i)"], Sample(timestamp: t, value: Double(Int(t / 15_000 % 97) + i)))
                    }
                    t += 15_000
                }
            }
        }
        var seen: [String: String] = [:]
        for q in Self.queries {
            // A dashboard refreshed every minute: each window one minute later.
            for shift in [Int64(2), 1, 0] {
                let end = now - shift * 60_000
                let (cached, uncached) = answers(r, q, start: end - 3600_000, end: end)
                #expect(cached == uncached, "\(q), window ending \(shift) min ago")
                #expect(cached.contains("\"status\":\"success\""), "\(cached.prefix(200))")
                seen[q] = cached
            }
        }
        #expect(hits(r) == Self.queries.count * 2, "the second and third window of each query reuse the first's steps")
        #expect((r.resultsCache?.size.entries ?? 0) == Self.queries.count)

        // Late writes into cached steps: a sample in series 2's hole 30 minutes ago, and a new
        // series whose backlog starts 40 minutes ago.
        let hole = (now - 1800_000) / 600_000 * 600_000 + 15_000
        _ = try r.head.commit { b in
            _ = b.append(["__name__": "x", "g": "g0", "i": "2"], Sample(timestamp: hole, value: 1000))
            var t = now - 2400_000
            while t <= now - 2100_000 {
                _ = b.append(["__name__": "x", "g": "g1", "i": "late"], Sample(timestamp: t, value: 5))
                t += 15_000
            }
        }
        for q in Self.queries {
            let (cached, uncached) = answers(r, q, start: now - 3600_000, end: now)
            #expect(cached == uncached, "\(q) after late writes")
            if q != "time()" { #expect(cached != seen[q], "\(q): the late samples change the answer") }
        }
    }

    /// An answer of up to half the cache's points is kept, a larger one is computed again on
    /// every refresh (a quarter, as it was, left 6 h panels of 1,200 series uncached).
    @Test func anAnswerOfHalfTheCacheIsKeptAndALargerOneIsNot() throws {
        let steps = 40
        for (maxPoints, kept) in [(2 * steps, true), (2 * steps - 1, false)] {
            let dir = NSTemporaryDirectory() + "tributary-cache-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let r = try receiver(dir, cacheMaxPoints: maxPoints)
            let now = Int64(Date().timeIntervalSince1970) * 1000 / 15_000 * 15_000
            _ = try r.head.commit { b in
                for k in (0..<(steps + 10)).reversed() {
                    _ = b.append(["__name__": "x"], Sample(timestamp: now - Int64(k) * 15_000, value: Double(k)))
                }
            }
            let start = now - Int64(steps + 1) * 15_000
            _ = answers(r, "x", start: start, end: start + Int64(steps - 1) * 15_000)
            #expect(r.resultsCache?.size.points == (kept ? steps : 0), "cache of \(maxPoints) points")
            // What /metrics shows an operator: the points held and the most it may hold.
            #expect(gauge(r, "tributary_query_results_cache_points") == Double(kept ? steps : 0))
            #expect(gauge(r, "tributary_query_results_cache_max_points") == Double(maxPoints))
            let (cached, uncached) = answers(r, "x", start: start + 15_000, end: start + Int64(steps) * 15_000)
            #expect(cached == uncached)
            #expect(hits(r) == (kept ? 1 : 0), "cache of \(maxPoints) points: the moved window reuses the answer")
        }
    }

    /// Agents keep writing while a dashboard refreshes: samples at the newest cached steps
    /// (a series whose last scrapes arrive late) and after them. Every step is cached, so the
    /// refresh must recompute from the oldest sample written since, not from a fixed age.
    @Test func writesAtTheNewestCachedStepsAreSeenByTheNextRefresh() throws {
        let dir = NSTemporaryDirectory() + "tributary-cache-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try receiver(dir)
        let now = Int64(Date().timeIntervalSince1970) * 1000 / 60_000 * 60_000  // on a subquery step
        func x(_ i: Int) -> Labels { ["__name__": "x", "g": "g\(i % 2)", "i": "\(i)"] }
        _ = try r.head.commit { b in
            for i in 0..<6 {
                var t = now - 3600 * 1000
                // Series 3's last two scrapes have not arrived yet.
                while t <= (i == 3 ? now - 30_000 : now) {
                    _ = b.append(x(i), Sample(timestamp: t, value: Double(Int(t / 15_000 % 89) * (i + 1))))
                    t += 15_000
                }
            }
        }
        var first: [String: String] = [:]
        for q in Self.queries {
            let (cached, uncached) = answers(r, q, start: now - 1800_000, end: now)
            #expect(cached == uncached, "\(q)")
            first[q] = cached
        }
        let hitsBefore = hits(r)
        _ = try r.head.commit { b in
            _ = b.append(x(3), Sample(timestamp: now - 15_000, value: 1e6))
            _ = b.append(x(3), Sample(timestamp: now, value: 2e6))
            for i in 0..<6 { _ = b.append(x(i), Sample(timestamp: now + 15_000, value: 7)) }
        }
        for q in Self.queries {
            let (cached, uncached) = answers(r, q, start: now - 1800_000, end: now)
            #expect(cached == uncached, "\(q): the same window after the late scrapes")
            if q != "time()" { #expect(cached != first[q], "\(q): series 3's late scrapes change the newest steps") }
            let (moved, movedUncached) = answers(r, q, start: now - 1800_000 + 15_000, end: now + 15_000)
            #expect(moved == movedUncached, "\(q): the window moved by a step")
        }
        #expect(hits(r) - hitsBefore == 2 * Self.queries.count, "both refreshes of each query reuse steps")
    }

    /// The window's last step lies after the newest sample and the next scrape changes it: the
    /// refresh recomputes that step and still extends the settled steps in place (they are not
    /// copied), and answers as uncached.
    @Test func aScrapeAtTheWindowsLastStepLeavesTheSettledStepsInPlace() throws {
        let dir = NSTemporaryDirectory() + "tributary-cache-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try receiver(dir)
        let cache = try #require(r.resultsCache)
        let now = Int64(Date().timeIntervalSince1970) * 1000 / 15_000 * 15_000
        func x(_ i: Int) -> Labels { ["__name__": "x", "i": "\(i)"] }
        _ = try r.head.commit { b in
            for i in 0..<4 {
                for t in stride(from: now - 3600 * 1000, through: now, by: 15_000) { _ = b.append(x(i), Sample(timestamp: t, value: Double(i))) }
            }
        }
        // The window ends a step after the newest sample (at `now`).
        let (first, firstUncached) = answers(r, "x", start: now - 1800_000, end: now + 15_000)
        #expect(first == firstUncached)
        // Held here, so no new storage can take their addresses.
        let settled = cache.settledStorages()
        func identities(_ storages: [CachedSteps]) -> Set<ObjectIdentifier> { Set(storages.map(ObjectIdentifier.init)) }
        #expect(identities(settled).count == 4)
        _ = try r.head.commit { b in
            for i in 0..<4 { _ = b.append(x(i), Sample(timestamp: now + 15_000, value: Double(i) + 100)) }
        }
        let (refreshed, uncached) = answers(r, "x", start: now - 1800_000, end: now + 15_000)
        #expect(refreshed == uncached)
        #expect(refreshed != first, "the scrape changes the last step")
        #expect(identities(cache.settledStorages()) == identities(settled), "the settled steps were copied")
    }

    /// The window's last step lies after the newest sample at every refresh (as Grafana's end,
    /// rounded up to the step, puts it) and each refresh follows a scrape: the new last step is
    /// written after the recent steps in place, so their storage stays the same until its room
    /// is used (16 steps), and every answer is the uncached one.
    @Test func recentStepsAreWrittenInPlaceAsTheWindowMoves() throws {
        let dir = NSTemporaryDirectory() + "tributary-cache-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try receiver(dir)
        let cache = try #require(r.resultsCache)
        let now = Int64(Date().timeIntervalSince1970) * 1000 / 15_000 * 15_000 - 3600 * 1000
        func x(_ i: Int) -> Labels { ["__name__": "x", "i": "\(i)"] }
        _ = try r.head.commit { b in
            for i in 0..<4 {
                for t in stride(from: now - 3600 * 1000, through: now, by: 15_000) { _ = b.append(x(i), Sample(timestamp: t, value: Double(i))) }
            }
        }
        func identities(_ storages: [CachedSteps]) -> Set<ObjectIdentifier> { Set(storages.map(ObjectIdentifier.init)) }
        var first: [CachedSteps] = []
        var kept = 0
        for k in Int64(0)..<12 {
            if k > 0 {
                _ = try r.head.commit { b in
                    for i in 0..<4 { _ = b.append(x(i), Sample(timestamp: now + k * 15_000, value: Double(i) + Double(k))) }
                }
            }
            // Steps half a step after the samples: the last one is after the newest.
            let end = now + k * 15_000 + 7_500
            let (cached, uncached) = answers(r, "x", start: end - 1800_000, end: end)
            #expect(cached == uncached, "refresh \(k)")
            let recent = cache.recentStorages()
            #expect(recent.count == 4, "refresh \(k): each series has its last step recent")
            if k == 0 {
                first = recent  // held here, so no new storage can take their addresses
            } else if identities(recent) == identities(first) {
                kept += 1
            }
        }
        #expect(kept == 11, "\(kept) of 11 refreshes wrote their recent steps in place")
    }

    /// A refresh pairs each newly computed series with the cached one it continues by its
    /// place (``SeriesPositions``), kept from refresh to refresh: series that leave the window
    /// (their places move) and series that appear between others must still land right.
    @Test func seriesThatComeAndGoKeepTheirPlaces() throws {
        let dir = NSTemporaryDirectory() + "tributary-cache-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try receiver(dir)
        let now = Int64(Date().timeIntervalSince1970) * 1000 / 60_000 * 60_000
        let minute: Int64 = 60_000
        // "1" stops 40 minutes back; "3b" and "2b" (in group g0 both, stored in that order,
        // "2b" first in label order) start 30 minutes back.
        let spans: [(String, Int64, Int64)] = [
            ("0", now - 90 * minute, now), ("1", now - 90 * minute, now - 40 * minute), ("2", now - 90 * minute, now),
            ("3", now - 90 * minute, now), ("3b", now - 30 * minute, now), ("4", now - 90 * minute, now), ("2b", now - 30 * minute, now)
        ]
        _ = try r.head.commit { b in
            for (k, (name, from, to)) in spans.enumerated() {
                var t = from
                while t <= to {
                    _ = b.append(["__name__": "x", "g": "g\(k % 2)", "i": name], Sample(timestamp: t, value: Double(Int(t / 15_000 % 83) * (k + 1))))
                    t += 15_000
                }
            }
        }
        let hitsBefore = hits(r)
        var refreshes = 0
        for q in Self.queries {
            // A 10-minute panel refreshed a step at a time from 32 to 20 minutes back: "1" leaves
            // the window, "3b" and "2b" enter it at the same refresh.
            var end = now - 32 * minute
            while end <= now - 20 * minute {
                let (cached, uncached) = answers(r, q, start: end - 10 * minute, end: end)
                #expect(cached == uncached, "\(q), window ending \((now - end) / 1000) s back")
                end += 15_000
                refreshes += 1
            }
            refreshes -= 1  // the first window of each query computes everything
        }
        #expect(hits(r) - hitsBefore == refreshes, "each refresh after the first reuses steps")
    }

    @Test func queriesThatReadAfterTheirStepOrDependOnTheRangeAreNotCached() throws {
        let dir = NSTemporaryDirectory() + "tributary-cache-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try receiver(dir)
        let now = Int64(Date().timeIntervalSince1970) * 1000
        _ = try r.head.commit { b in _ = b.append(["__name__": "x"], Sample(timestamp: now - 3600_000, value: 1)) }
        for q in ["x @ end()", "x offset -5m", "x @ 100", "x[5m:1m] @ start()", "x * step()", "x offset step()"] {
            let (cached, uncached) = answers(r, q, start: now - 3600_000, end: now)
            #expect(cached == uncached, "\(q)")
        }
        #expect(r.resultsCache?.size.entries == 0)
        // nocache=1 neither reads nor fills the cache; the config switch turns it off.
        _ = r.api("query_range", query: "query=x&start=\(now / 1000 - 3600)&end=\(now / 1000)&step=15&nocache=1", form: nil)
        #expect(r.resultsCache?.size.entries == 0)
        var c = ReceiverConfiguration()
        c.dataDirectory = dir + "-off"
        c.queryResultsCache = false
        defer { try? FileManager.default.removeItem(atPath: c.dataDirectory) }
        #expect(try Receiver(configuration: c).resultsCache == nil)
    }
}
