import Foundation
import Testing
import TributaryModel
import TributaryReceiver
import TributaryTSDB
import TributaryWire

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The receiver writes blocks as it runs (one-minute blocks here): the API answers over blocks
/// and head as one, series that left the head stay queryable from their blocks, and a restart
/// answers the same.
@Suite(.serialized) struct BlocksOverHTTPTests {
    static let labels: [Labels] = (0..<5).map { ["__name__": "up", "group": "lab-\($0 % 2)", "instance": "host-\($0)", "job": "node"] }
    static let gone: Labels = ["__name__": "up", "group": "lab-9", "instance": "retired", "job": "node"]

    static func configure(_ c: inout ReceiverConfiguration) {
        c.storage.blockDuration = 60_000
        c.storageMaintenanceInterval = 0.1
        c.queryResultsCache = false
    }

    @Test func answersSpanBlocksAndHeadAndSurviveRestart() async throws {
        let dir = NSTemporaryDirectory() + "tributary-blocks-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try await TestServer(directory: dir, configure: Self.configure)
        // Ten minutes at 5 s; the retired host stops after one minute.
        for t in stride(from: Int64(0), to: 600_000, by: 5_000) {
            var series = Self.labels.map { TimeSeries(labels: $0, samples: [Sample(timestamp: t, value: Double(t) / 1000)]) }
            if t < 60_000 { series.append(TimeSeries(labels: Self.gone, samples: [Sample(timestamp: t, value: 1)])) }
            #expect(try await server.write(WriteRequestEncoder().encode(WriteRequest(timeseries: series))).0 == 204)
        }
        var blocks = 0.0
        for _ in 0..<100 {
            blocks = try await server.metric("tributary_tsdb_blocks_loaded")
            if blocks > 0, server.receiver.head.numSeries == 5 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(blocks > 0, "blocks were written")
        #expect(server.receiver.head.numSeries == 5, "the retired series left the head")
        #expect(try await server.metric("tributary_tsdb_head_blocks_written_total") > 0)
        try await Self.expectAnswers(server, "running")
        await server.stop()

        let again = try await TestServer(directory: dir, configure: Self.configure)
        try await Self.expectAnswers(again, "after restart")
        await again.stop()
    }

    static func expectAnswers(_ server: TestServer, _ when: String) async throws {
        // Every 5 s sample of ten minutes, once.
        let (_, json, text) = try await server.get("/api/v1/query?query=count_over_time(up%5B10m%5D)&time=599.999")
        let result = (json["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
        #expect(result.count == 6, "\(when): \(text.prefix(300))")
        for r in result {
            let metric = r["metric"] as? [String: String] ?? [:]
            let count = ((r["value"] as? [Any])?.last as? String) ?? ""
            #expect(count == (metric["instance"] == "retired" ? "12" : "120"), "\(when): \(metric) has \(count)")
        }
        // The retired series, only in a block now, is listed by series, labels and label values.
        let (_, series, _) = try await server.get("/api/v1/series?match%5B%5D=up%7Binstance%3D%22retired%22%7D&start=0&end=600")
        #expect((series["data"] as? [[String: String]])?.count == 1, "\(when): series")
        let (_, values, _) = try await server.get("/api/v1/label/group/values?start=0&end=600")
        #expect((values["data"] as? [String]) == ["lab-0", "lab-1", "lab-9"], "\(when): label values")
        let (_, status, _) = try await server.get("/api/v1/status/tsdb")
        let blockStats = (status["data"] as? [String: Any])?["blockStats"] as? [String: Any]
        #expect((blockStats?["numBlocks"] as? Int ?? 0) > 0 && (blockStats?["numSamples"] as? Int ?? 0) > 0, "\(when): \(String(describing: blockStats))")
        // A range query across the block boundaries.
        let (_, range, rangeText) = try await server.get("/api/v1/query_range?query=sum%20by%20(group)%20(up)&start=0&end=595&step=5")
        let matrix = (range["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
        let lab0 = matrix.first { ($0["metric"] as? [String: String])?["group"] == "lab-0" }
        #expect((lab0?["values"] as? [Any])?.count == 120, "\(when): \(rangeText.prefix(200))")
    }

    /// Five minutes of the five series at 5 s (from time 0), then waits for the first blocks.
    static func writeFiveMinutes(_ server: TestServer) async throws {
        for t in stride(from: Int64(0), to: 300_000, by: 5_000) {
            let series = labels.map { TimeSeries(labels: $0, samples: [Sample(timestamp: t, value: Double(t) / 1000)]) }
            #expect(try await server.write(WriteRequestEncoder().encode(WriteRequest(timeseries: series))).0 == 204)
        }
        for _ in 0..<100 where server.receiver.db.blocks.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!server.receiver.db.blocks.isEmpty)
    }

    @Test func adminSnapshotHoldsBlocksAndHead() async throws {
        let dir = NSTemporaryDirectory() + "tributary-snapshot-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let closed = try await TestServer(directory: dir + "/closed")
        var post = URLRequest(url: URL(string: closed.base + "/api/v1/admin/tsdb/snapshot")!)
        post.httpMethod = "POST"
        let (status, json, _) = try await closed.send(post)
        #expect(status == 503 && (json["error"] as? String)?.contains("admin APIs disabled") == true, "off unless asked for")
        await closed.stop()

        let server = try await TestServer(directory: dir + "/open") { c in
            Self.configure(&c)
            c.adminAPI = true
        }
        try await Self.writeFiveMinutes(server)
        post.url = URL(string: server.base + "/api/v1/admin/tsdb/snapshot")
        let (ok, answer, text) = try await server.send(post)
        #expect(ok == 200, "\(text)")
        let name = try #require((answer["data"] as? [String: Any])?["name"] as? String)
        // The snapshot is a data directory of its own: blocks (hard links) and the head as a block.
        let snapshot = try DB(directory: dir + "/open/snapshots/" + name, head: Head())
        #expect(snapshot.blocks.count >= 2, "blocks and the head as a block: \(snapshot.blocks.count)")
        let all = try snapshot.querier().select([try Matcher(.equal, "__name__", "up")], start: Int64.min, end: Int64.max)
        #expect(all.count == 5)
        for s in all {
            var samples: [Sample] = []
            s.appendSamples(to: &samples)
            #expect(samples.count == 60, "\(s.labels): \(samples.count) samples of 60")
        }
        await server.stop()
    }

    /// `delete_series` (match[], start, end in a form body) and `clean_tombstones`, as
    /// Prometheus answers them: 204, and the range gone from queries over blocks and head.
    @Test func adminDeleteSeriesAndCleanTombstones() async throws {
        let dir = NSTemporaryDirectory() + "tributary-delete-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try await TestServer(directory: dir) { c in
            Self.configure(&c)
            c.adminAPI = true
        }
        try await Self.writeFiveMinutes(server)
        let count = "sum(count_over_time(up%7Binstance%3D%22host-1%22%7D%5B10m%5D))&time=299"
        #expect(try await server.queryScalar(count) == 60)

        let (missing, refusal, _) = try await server.postForm("/api/v1/admin/tsdb/delete_series", "start=100")
        #expect(missing == 400 && refusal["errorType"] as? String == "bad_data" && refusal["error"] as? String == "no match[] parameter provided")
        let (bad, _, _) = try await server.postForm("/api/v1/admin/tsdb/delete_series", "match%5B%5D=up%7B")
        #expect(bad == 400)
        // 100 s to 200 s of host-1: 21 samples at 5 s, in a block and the head.
        let (deleted, _, text) = try await server.postForm(
            "/api/v1/admin/tsdb/delete_series", "match%5B%5D=up%7Binstance%3D%22host-1%22%7D&start=100&end=200")
        #expect(deleted == 204, "\(text)")
        #expect(try await server.queryScalar(count) == 60 - 21)
        #expect(try await server.queryScalar("sum(count_over_time(up%5B10m%5D))&time=299") == 5 * 60 - 21, "other series untouched")
        let (cleaned, _, cleanText) = try await server.postForm("/api/v1/admin/tsdb/clean_tombstones", "")
        #expect(cleaned == 204, "\(cleanText)")
        #expect(server.receiver.db.blocks.allSatisfy { $0.tombstones.isEmpty })
        #expect(try await server.queryScalar(count) == 60 - 21)
        await server.stop()
    }
}
