import Foundation
import Logging
import Synchronization
import Testing
import TributaryModel
import TributaryPromQL
import TributaryTSDB

@testable import TributaryReceiver

/// `stats=all` answers Prometheus's stats object, its samples counted as Prometheus counts them,
/// and a query over `query.slow_query_threshold` is logged with its text, range and time (and
/// the samples it read from storage).
@Suite struct QueryStatsTests {
    @Test func statsCountWhatTheQueryReadAndSlowQueriesAreLogged() throws {
        let dir = NSTemporaryDirectory() + "tributary-stats-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = ReceiverConfiguration()
        c.dataDirectory = dir
        c.slowQueryThreshold = 0  // every query is "slow"
        let capture = RateLimitedLogTests.Capture()
        let r = try Receiver(configuration: c, logger: Logger(label: "t") { _ in RateLimitedLogTests.Handler(capture: capture) })
        _ = try r.head.commit { b in
            for i in 0..<10 {
                for k in 0..<40 { _ = b.append(["__name__": "m", "i": "\(i)"], Sample(timestamp: Int64(k) * 15_000, value: Double(k))) }
            }
        }
        // rate over [0, 600 s] reads each series' 40 samples once (every sample is in range);
        // Prometheus counts each step's window: 20 steps of 20 samples (the window is open on
        // the left) per series.
        let answer = r.api("query_range", query: "query=sum(rate(m%5B5m%5D))&start=300&end=585&step=15&stats=all&nocache=1", form: nil, queued: 0.25)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])
        let data = try #require(json["data"] as? [String: Any])
        let stats = try #require(data["stats"] as? [String: Any], "\(String(decoding: answer.body, as: UTF8.self).prefix(300))")
        let samples = try #require(stats["samples"] as? [String: Any])
        let timings = try #require(stats["timings"] as? [String: Any])
        #expect(samples["totalQueryableSamples"] as? Int == 10 * 20 * 20)
        #expect((samples["peakSamples"] as? Int ?? 0) > 0)
        for name in ["evalTotalTime", "queryPreparationTime", "innerEvalTime", "execQueueTime", "execTotalTime"] {
            #expect((timings[name] as? Double).map { $0 >= 0 } == true, "\(name)")
        }
        // The time waited for a query thread is reported and counted in the total.
        #expect(timings["execQueueTime"] as? Double == 0.25)
        let eval = timings["evalTotalTime"] as? Double ?? 0, prepare = timings["queryPreparationTime"] as? Double ?? 0
        #expect(abs((timings["execTotalTime"] as? Double ?? 0) - (0.25 + eval + prepare)) < 1e-6)
        // Without stats there is none.
        let plain = r.api("query", query: "query=m&time=100", form: nil)
        #expect(!String(decoding: plain.body, as: UTF8.self).contains("\"stats\""))
        let slow = capture.lines.withLock { $0.filter { $0.0 == "slow query" } }
        #expect(slow.count == 2)
        #expect(slow.first?.1["query"] == "sum(rate(m[5m]))")
        #expect(slow.first?.1["range"] == "300.0 to 585.0 step 15.0s")
        #expect(slow.first?.1["samples_read"] == "\(10 * 40)")
        #expect(slow.first?.1["queryable_samples"] == "\(10 * 20 * 20)")
        #expect(slow.last?.1["range"] == "instant at 100.0")

        // Under the default threshold (5 s) nothing is logged.
        c.slowQueryThreshold = ReceiverConfiguration().slowQueryThreshold
        c.dataDirectory = dir + "/quiet"
        let quiet = RateLimitedLogTests.Capture()
        let q = try Receiver(configuration: c, logger: Logger(label: "t") { _ in RateLimitedLogTests.Handler(capture: quiet) })
        _ = q.api("query", query: "query=m&time=100", form: nil)
        #expect(quiet.lines.withLock { $0.filter { $0.0 == "slow query" } }.isEmpty)
    }

    /// Every `query` setting reaches what it configures (none is read and then ignored).
    @Test func querySettingsReachTheEngineAndCache() throws {
        let dir = NSTemporaryDirectory() + "tributary-query-settings-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = ReceiverConfiguration()
        c.dataDirectory = dir
        c.queryParallelism = 3
        c.queryMaxSamples = 1234
        c.queryTimeout = 7_000
        c.queryResultsCacheMaxPoints = 999
        let r = try Receiver(configuration: c)
        #expect(r.engine.options.workers?.workers == 3)
        #expect(r.engine.options.maxSamples == 1234)
        #expect(r.engine.options.timeout == 7)
        #expect(r.resultsCache?.maxPoints == 999)
        #expect(r.queries.queueTimeout == .seconds(7))
        c.queryParallelism = 1
        c.dataDirectory = dir + "/one"
        #expect(try Receiver(configuration: c).engine.options.workers == nil, "one thread: no helpers")
    }
}
