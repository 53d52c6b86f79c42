import Foundation
import Testing
import TributaryModel
import TributaryTestSupport
import TributaryWire

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Blocks written by Debian's prometheus server open in our receiver and answer the same
/// queries: Prometheus (5-minute blocks) takes 20 minutes of samples over remote write and
/// cuts blocks; then our receiver is started on its data directory (its `wal/` set aside: that
/// is Prometheus's WAL format, not ours) and asked what Prometheus was asked.
@Suite(.serialized) struct PrometheusBlocksTests {
    @Test func blocksWrittenByPrometheusAnswerTheSameInOurs() async throws {
        // Blocking work off the cooperative pool; the checks outside, where the test sees them.
        let (blockCount, answers) = try await offPool { () throws -> (Int, [(query: String, theirs: String, ours: String)]) in
            let block: Int64 = 300_000
            let start = (Int64(Date().timeIntervalSince1970 * 1000) - 3_600_000) / block * block
            let prometheus = try PeerProcess("prometheus", readyPath: "/-/ready") { port, dir in
                try "global:\n  scrape_interval: 1m\n".write(toFile: dir + "/p.yml", atomically: true, encoding: .utf8)
                return [
                    "--config.file=\(dir)/p.yml", "--storage.tsdb.path=\(dir)/data", "--web.listen-address=127.0.0.1:\(port)",
                    "--web.enable-remote-write-receiver", "--storage.tsdb.min-block-duration=5m", "--storage.tsdb.max-block-duration=5m"
                ]
            }
            defer {
                prometheus.stop()
                prometheus.removeDirectory()
            }
            let series: [Labels] = (0..<6).map { ["__name__": "demo_bytes_total", "group": "lab-\($0 % 2)", "instance": "host-\($0)", "job": "node"] }
            for k in 0..<80 {
                let t = start + Int64(k) * 15_000
                let request = WriteRequest(
                    timeseries: series.enumerated().map { i, l in
                        TimeSeries(labels: l, samples: [Sample(timestamp: t, value: Double(k * (i + 1)) * 1.25 + (k == 20 && i == 2 ? -50 : 0))])
                    })
                var post = URLRequest(url: URL(string: "http://127.0.0.1:\(prometheus.port)/api/v1/write")!)
                post.httpMethod = "POST"
                post.setValue("application/x-protobuf", forHTTPHeaderField: "Content-Type")
                post.setValue("snappy", forHTTPHeaderField: "Content-Encoding")
                post.httpBody = Data(WriteRequestEncoder().encode(request))
                let (status, body) = try httpRequest(post)
                guard status / 100 == 2 else { throw TestFailure("prometheus refused the write: \(String(decoding: body, as: UTF8.self))") }
            }
            // Prometheus compacts its head once a minute: wait for two blocks.
            let data = prometheus.dir + "/data"
            var blocks: [String] = []
            for _ in 0..<180 {
                blocks = ((try? FileManager.default.contentsOfDirectory(atPath: data)) ?? []).filter {
                    $0.count == 26 && FileManager.default.fileExists(atPath: "\(data)/\($0)/meta.json")
                }
                if blocks.count >= 2 { break }
                Thread.sleep(forTimeInterval: 1)
            }
            guard blocks.count >= 2 else { throw TestFailure("prometheus wrote \(blocks.count) blocks in 3 minutes") }
            let end = Double(start + 2 * block) / 1000 - 1  // inside the first two blocks
            let queries = [
                // Exact functions only: summation order (Kahan in ours, as Prometheus 3) may
                // change the last bit of a sum against 2.42.
                "query_range?query=\(Self.encoded("max by (group) (demo_bytes_total)"))&start=\(Double(start) / 1000 + 150)&end=\(end)&step=30",
                "query?query=\(Self.encoded("resets(demo_bytes_total[10m])"))&time=\(end)",
                "query_range?query=\(Self.encoded("demo_bytes_total{instance=~\"host-[12]\"}"))&start=\(Double(start) / 1000)&end=\(end)&step=15",
                "query?query=\(Self.encoded("count_over_time(demo_bytes_total[10m])"))&time=\(end)",
                "series?match%5B%5D=demo_bytes_total&start=\(Double(start) / 1000)&end=\(end)",
                "label/instance/values?start=\(Double(start) / 1000)&end=\(end)"
            ]
            let theirs = try queries.map { try Self.data(httpGet("http://127.0.0.1:\(prometheus.port)/api/v1/\($0)")) }
            prometheus.stop()
            try FileManager.default.moveItem(atPath: data + "/wal", toPath: prometheus.dir + "/prometheus-wal")
            try? FileManager.default.removeItem(atPath: data + "/chunks_head")

            let ours = try PeerProcess("tributary", readyPath: "/-/ready") { port, _ in
                ["receive", "--listen", "127.0.0.1:\(port)", "--data-dir", data]
            }
            defer {
                ours.stop()
                ours.removeDirectory()
            }
            var answers: [(query: String, theirs: String, ours: String)] = []
            for (q, expected) in zip(queries, theirs) {
                answers.append((q, expected, try Self.data(httpGet("http://127.0.0.1:\(ours.port)/api/v1/\(q)"))))
            }
            return (blocks.count, answers)
        }
        #expect(blockCount >= 2)
        for a in answers {
            #expect(a.ours == a.theirs, "\(a.query):\nprometheus \(a.theirs.prefix(400))\nours       \(a.ours.prefix(400))")
            #expect(a.theirs.count > 20, "\(a.query) answered with data: \(a.theirs)")
        }
        #expect(answers.contains { $0.query.hasPrefix("query?query=resets") && $0.theirs.contains("\"1\"") }, "the counter reset is in the data")
    }

    static func encoded(_ q: String) -> String { q.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "" }

    /// The `data` member of an API answer, re-serialized with sorted keys (the same JSON from
    /// both servers compares equal; series come sorted by labels from both).
    static func data(_ text: String) throws -> String {
        let json = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        let value = json?["data"] ?? NSNull()
        let bytes = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])
        return String(decoding: bytes, as: UTF8.self)
    }
}
