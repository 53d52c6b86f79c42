import Foundation
import Testing
import TributaryModel
import TributaryReceiver
import TributaryTSDB
import TributaryWire

@Suite(.serialized) struct ReceiverTests {
    static func series(_ labels: Labels, _ samples: [(Int64, Double)]) -> TimeSeries {
        TimeSeries(labels: labels, samples: samples.map { Sample(timestamp: $0.0, value: $0.1) })
    }

    static func body(_ series: [TimeSeries], metadata: [MetricMetadata] = []) -> [UInt8] {
        WriteRequestEncoder().encode(WriteRequest(timeseries: series, metadata: metadata))
    }

    /// What Grafana's Prometheus data source sends (REFERENCE.md §6), each answered with success.
    @Test func grafanaRequestShapes() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let (status, _, _) = try await server.write(
            Self.body(
                [
                    Self.series(["__name__": "up", "job": "node", "group": "lab-1", "instance": "a:9100"], [(now - 30_000, 1), (now - 15_000, 1)])
                ], metadata: [MetricMetadata(type: .gauge, metricFamilyName: "up", help: "Target up.")]))
        #expect(status == 204)
        let startS = Double(now) / 1000 - 3600, endS = Double(now) / 1000

        // Save & test: instant query 1+1 at time 4.
        var (code, json, text) = try await server.get("/api/v1/query?query=1%2B1&time=4")
        #expect(code == 200 && json["status"] as? String == "success", "\(text)")
        #expect((json["data"] as? [String: Any])?["resultType"] as? String == "scalar")
        // query_range as a form POST.
        (code, json, text) = try await server.postForm("/api/v1/query_range", "query=sum+by+(group)+(up)&start=\(startS)&end=\(endS)&step=15")
        #expect(code == 200 && json["status"] as? String == "success", "\(text)")
        let result = (json["data"] as? [String: Any])?["result"] as? [[String: Any]]
        #expect((result?.first?["metric"] as? [String: String]) == ["group": "lab-1"], "\(text)")
        // labels with limit and match[].
        (code, json, text) = try await server.get("/api/v1/labels?start=\(startS)&end=\(endS)&limit=40000&match%5B%5D=up")
        #expect(json["status"] as? String == "success", "\(text)")
        #expect((json["data"] as? [String]) == ["__name__", "group", "instance", "job"])
        // label/__name__/values with start/end.
        (code, json, text) = try await server.get("/api/v1/label/__name__/values?start=\(startS)&end=\(endS)")
        #expect((json["data"] as? [String]) == ["up"], "\(text)")
        // series.
        (code, json, text) = try await server.postForm("/api/v1/series", "match[]=%7B__name__%21%3D%22%22%7D&start=\(startS)&end=\(endS)&limit=40000")
        #expect((json["data"] as? [[String: String]])?.count == 1, "\(text)")
        // metadata, buildinfo.
        (code, json, text) = try await server.get("/api/v1/metadata")
        #expect(((json["data"] as? [String: Any])?["up"] as? [[String: String]])?.first?["type"] == "gauge", "\(text)")
        (code, json, text) = try await server.get("/api/v1/status/buildinfo")
        #expect(json["status"] as? String == "success" && (json["data"] as? [String: Any])?["version"] != nil, "\(text)")
        // query_exemplars with millisecond times (Grafana's probe).
        (code, json, text) = try await server.get("/api/v1/query_exemplars?query=test&start=\(now - 3_600_000)&end=\(now)")
        #expect(code == 200 && json["status"] as? String == "success", "\(text)")
        // status/tsdb and format_query.
        (code, json, text) = try await server.get("/api/v1/status/tsdb")
        #expect(((json["data"] as? [String: Any])?["headStats"] as? [String: Any])?["numSeries"] as? Int == 1, "\(text)")
        // The one series' open chunk (it was 0 whatever the head held).
        #expect(((json["data"] as? [String: Any])?["headStats"] as? [String: Any])?["chunkCount"] as? Int == 1, "\(text)")
        (code, json, text) = try await server.get("/api/v1/format_query?query=sum(rate(x%5B5m%5D))by(job)")
        #expect(json["data"] as? String == "sum by (job) (rate(x[5m]))", "\(text)")
        // Rules and alerts (Grafana's alerting pages): none, as Prometheus answers without rules.
        (code, json, text) = try await server.get("/api/v1/rules")
        #expect(code == 200 && ((json["data"] as? [String: Any])?["groups"] as? [Any])?.isEmpty == true, "\(text)")
        (code, json, text) = try await server.get("/api/v1/alerts")
        #expect(code == 200 && ((json["data"] as? [String: Any])?["alerts"] as? [Any])?.isEmpty == true, "\(text)")
        await server.stop()
    }

    /// `/api/v1/metadata`'s `limit` and `limit_per_metric` as Prometheus reads them.
    @Test func metadataLimits() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let families = ["a_total", "b", "c_seconds"].map { MetricMetadata(type: .gauge, metricFamilyName: $0, help: "about \($0)") }
        #expect(try await server.write(Self.body([], metadata: families)).0 == 204)
        var (code, json, text) = try await server.get("/api/v1/metadata")
        #expect(code == 200 && (json["data"] as? [String: Any])?.count == 3, "\(text)")
        (code, json, text) = try await server.get("/api/v1/metadata?limit=2&limit_per_metric=1")
        #expect(code == 200 && (json["data"] as? [String: Any])?.keys.sorted() == ["a_total", "b"], "\(text)")
        (code, json, text) = try await server.get("/api/v1/metadata?limit=0")
        #expect(code == 200 && (json["data"] as? [String: Any])?.isEmpty == true, "\(text)")
        (code, json, text) = try await server.get("/api/v1/metadata?limit=-1&metric=b")
        #expect(code == 200 && (json["data"] as? [String: Any])?.keys.sorted() == ["b"], "\(text)")
        for bad in ["limit=many", "limit_per_metric=x"] {
            (code, json, text) = try await server.get("/api/v1/metadata?" + bad)
            #expect(code == 400 && json["errorType"] as? String == "bad_data", "\(bad): \(text)")
        }
        await server.stop()
    }

    /// A `limit` that cuts an answer short says so, with Prometheus's warning; one that does
    /// not cut it adds nothing.
    @Test func limitsWarnWhenTheyTruncate() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let (status, _, _) = try await server.write(
            Self.body(
                (1...3).map { i in Self.series(["__name__": "up", "job": "node", "instance": "h\(i):9100"], [(now - 15_000, 1)]) }
                    + [Self.series(["__name__": "node_load1", "job": "node", "instance": "h1:9100"], [(now - 15_000, 0.5)])]))
        #expect(status == 204)
        let window = "start=\(Double(now) / 1000 - 3600)&end=\(Double(now) / 1000)"
        let cases: [(path: String, truncated: Int, whole: Int)] = [
            ("/api/v1/series?match%5B%5D=up&\(window)", 2, 3),
            ("/api/v1/labels?\(window)", 2, 3),
            ("/api/v1/label/instance/values?\(window)", 2, 3),
            ("/api/v1/label/__name__/values?\(window)", 1, 2)
        ]
        for c in cases {
            var (code, json, text) = try await server.get(c.path + "&limit=\(c.truncated)")
            #expect(code == 200 && (json["data"] as? [Any])?.count == c.truncated, "\(text)")
            #expect(json["warnings"] as? [String] == ["results truncated due to limit"], "\(c.path): \(text)")
            (code, json, text) = try await server.get(c.path + "&limit=\(c.whole)")
            #expect(code == 200 && (json["data"] as? [Any])?.count == c.whole, "\(text)")
            #expect(json["warnings"] == nil, "\(c.path): \(text)")
        }
        await server.stop()
    }

    @Test func apiErrorsUsePrometheusTypes() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        var (code, json, _) = try await server.get("/api/v1/query?query=sum(")
        #expect(code == 400 && json["errorType"] as? String == "bad_data")
        #expect((json["error"] as? String)?.contains("1:5: parse error") == true)
        (code, json, _) = try await server.get("/api/v1/query_range?query=up&start=10&end=5&step=1")
        #expect(code == 400 && json["errorType"] as? String == "bad_data")
        (code, json, _) = try await server.get("/api/v1/query?query=label_replace(vector(1),%22a%22,%22x%22,%22b%22,%22(%22)")
        #expect(code == 422 && json["errorType"] as? String == "execution", "\(json)")
        await server.stop()
    }

    @Test func writeStatusCodes() async throws {
        let server = try await TestServer { $0.maxBodyBytes = 4096 }
        defer { server.removeData() }
        let good = Self.body([Self.series(["__name__": "m", "job": "x"], [(1000, 1)])])
        #expect(try await server.write(good).0 == 204)
        // Invalid labels: 400 naming the series; the valid series of the request are stored.
        let mixed = Self.body([
            Self.series(Labels(sortedPairs: [("job", "x"), ("__name__", "bad")]), [(2000, 1)]),
            Self.series(["__name__": "m", "job": "y"], [(2000, 2)])
        ])
        let (code, _, text) = try await server.write(mixed)
        #expect(code == 400)
        #expect(text.contains("timeseries 0") && text.contains("not sorted"), "\(text)")
        #expect(server.receiver.head.numSeries == 2)
        // Out of order: 400.
        let old = Self.body([Self.series(["__name__": "m", "job": "x"], [(500, 9)])])
        let (oooCode, _, oooText) = try await server.write(old)
        #expect(oooCode == 400 && oooText.contains("out of order"), "\(oooText)")
        // Unsupported content type and encoding: 415.
        #expect(try await server.write(good, contentType: "application/json").0 == 415)
        #expect(try await server.write(good, encoding: "gzip").0 == 415)
        // Garbage and framed snappy: 400; over the size limit: 413.
        #expect(try await server.write(Array("garbage".utf8)).0 == 400)
        #expect(try await server.write([0xFF, 0x06, 0x00, 0x00, 0x73, 0x4E, 0x61, 0x50, 0x70, 0x59, 1]).0 == 400)
        #expect(try await server.write([UInt8](repeating: 7, count: 10_000)).0 == 413)
        // Remote write 2.0 answers with the written-count headers.
        let v2 = V2Message(WriteRequest(timeseries: [Self.series(["__name__": "m", "job": "z"], [(3000, 3)])])).encode()
        let (v2Code, headers, _) = try await server.write(v2, contentType: RemoteWriteVersion.v2.contentType)
        #expect(v2Code == 204)
        #expect(headers.first { ($0.key as? String)?.lowercased() == "x-prometheus-remote-write-samples-written" }?.value as? String == "1")
        // An HA pair's samples in one window: both accepted (one stored, one deduplicated),
        // each counted once in Samples-Written (the deduplicated one was counted twice).
        let pair = V2Message(
            WriteRequest(timeseries: [
                Self.series(["__name__": "m", "job": "ha", "replica": "a"], [(60_000, 1)]),
                Self.series(["__name__": "m", "job": "ha", "replica": "b"], [(61_000, 1)]),
                Self.series(["__name__": "m", "job": "ha", "replica": "b"], [(60_000, 1)])
            ])
        ).encode()
        let (pairCode, pairHeaders, _) = try await server.write(pair, contentType: RemoteWriteVersion.v2.contentType)
        #expect(pairCode == 204)
        #expect(pairHeaders.first { ($0.key as? String)?.lowercased() == "x-prometheus-remote-write-samples-written" }?.value as? String == "3")
        #expect(try await server.metric("tributary_remote_write_samples_deduplicated_total") == 2)
        #expect(try await server.metric("tributary_remote_write_samples_repeated_total") == 0)
        // A good write afterwards still succeeds.
        #expect(try await server.write(Self.body([Self.series(["__name__": "m", "job": "x"], [(4000, 4)])])).0 == 204)
        await server.stop()
    }

    @Test func haPairIsStoredOnceAndSurvivesRestart() async throws {
        let dir = NSTemporaryDirectory() + "tributary-receiver-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try await TestServer(directory: dir)
        for k in 0..<20 {
            for (replica, phase) in [("a", Int64(1000)), ("b", Int64(7000))] {
                let t = Int64(k) * 15_000 + phase
                let labels: Labels = ["__name__": "c_total", "group": "lab-1", "job": "node", "replica": replica]
                #expect(try await server.write(Self.body([Self.series(labels, [(t, Double(t) / 1000)])])).0 == 204)
            }
        }
        await server.stop()
        // Restart on the same directory: the WAL brings everything back.
        let again = try await TestServer(directory: dir)
        let (_, json, text) = try await again.get("/api/v1/query?query=count_over_time(c_total%5B1h%5D)&time=400")
        let result = (json["data"] as? [String: Any])?["result"] as? [[String: Any]]
        #expect(result?.count == 1, "\(text)")
        #expect((result?.first?["metric"] as? [String: String]) == ["group": "lab-1", "job": "node"], "replica label removed")
        #expect((result?.first?["value"] as? [Any])?.last as? String == "20", "one sample per 15 s window: \(text)")
        await again.stop()
    }
}
