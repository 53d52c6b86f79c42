import Foundation
import TributaryModel
import TributaryPromQL
import TributaryTSDB
import TributaryTestSupport
import TributaryWire

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Query latency against Debian's prometheus 2.42 on the same data (issue "PromQL"): 10k
/// series, 6h at 15s, typical dashboard queries, instant and as 6h range queries at 60s.
/// Prometheus's figure is its own `evalTotalTime` (stats=all), so HTTP and JSON are left out
/// on both sides; its wall time over HTTP is printed too.
enum PromQLBenchmark {
    static let queries = [
        "sum by (group) (rate(bench_http_requests_total[5m]))",
        "histogram_quantile(0.9, sum by (le) (rate(bench_request_duration_seconds_bucket[5m])))",
        "topk(5, rate(bench_http_requests_total[5m]))",
        "sum(rate(bench_http_requests_total{instance=~\"host-1.*\"}[5m]))"
    ]

    static func run(instances: Int, rounds: Int) throws {
        // TRIBUTARY_BENCH_END=SECONDS: the data's last minute, for runs with the same chunks
        // (where the head cuts them depends on the time; instruction counts follow).
        let endSecond = ProcessInfo.processInfo.environment["TRIBUTARY_BENCH_END"].flatMap(Int64.init) ?? (Int64(Date().timeIntervalSince1970) - 60)
        let end = endSecond / 60 * 60 * 1000
        let start = end - Int64(rounds - 1) * 15_000
        print("promql: \(instances * 10) series, \(rounds) samples each (\(instances * 10 * rounds) samples), 15 s apart")
        let series = makeSeries(instances: instances)

        // TRIBUTARY_BENCH_NO_PEER=1 runs our side only (for profiling under callgrind).
        let withPeer = ProcessInfo.processInfo.environment["TRIBUTARY_BENCH_NO_PEER"] != "1"
        let prometheus =
            try withPeer
            ? Peer(binary: "prometheus") { port, dir in
                let config = dir + "/prometheus.yml"
                _ = FileManager.default.createFile(atPath: config, contents: Data("global:\n  scrape_interval: 1m\n".utf8))
                return [
                    "--config.file=\(config)", "--storage.tsdb.path=\(dir)/data", "--web.listen-address=127.0.0.1:\(port)",
                    "--web.enable-remote-write-receiver", "--log.level=warn", "--query.max-samples=100000000"
                ]
            } : nil
        defer { prometheus?.stop() }

        let head = Head()
        let loadStart = Date()
        let encoder = WriteRequestEncoder()
        for r in 0..<rounds {
            let t = start + Int64(r) * 15_000 + 250
            var requests: [[UInt8]] = []
            var batch: [TimeSeries] = []
            _ = try head.commit { b in
                for (i, s) in series.enumerated() {
                    let sample = Sample(timestamp: t, value: s.value(r, i))
                    _ = b.append(s.labels, sample)
                    batch.append(TimeSeries(labels: s.labels, samples: [sample]))
                    if batch.count == 2000 {
                        requests.append(encoder.encode(WriteRequest(timeseries: batch)))
                        batch.removeAll(keepingCapacity: true)
                    }
                }
            }
            if !batch.isEmpty { requests.append(encoder.encode(WriteRequest(timeseries: batch))) }
            try prometheus?.write(requests)
            if r % 240 == 0 { print("  loaded \(r) of \(rounds) rounds (\(Int(Date().timeIntervalSince(loadStart))) s)") }
        }
        print("  loaded both in \(Int(Date().timeIntervalSince(loadStart))) s")

        let engine = Engine()
        let querier = head.querier()
        print("  query                                                                                      ours (ms)  prometheus eval (ms)  http (ms)  ratio")
        // TRIBUTARY_BENCH_PROMQL_QUERY=EXPR: that query alone, instant only, or as a range query
        // only with TRIBUTARY_BENCH_PROMQL_RANGE=1 (with NO_PEER, to count its instructions
        // under callgrind).
        let env = ProcessInfo.processInfo.environment
        let only = env["TRIBUTARY_BENCH_PROMQL_QUERY"]
        // TRIBUTARY_BENCH_PROMQL_AFTER=MS: evaluated that much after `end` (the newest samples
        // are 250 ms after it), as a refresh of a dashboard evaluates its new step.
        let at = end + (env["TRIBUTARY_BENCH_PROMQL_AFTER"].flatMap(Int64.init) ?? 0)
        // TRIBUTARY_BENCH_PROMQL_ONE_STEP=1: a range query of one step at that time (what a
        // results cache computes when a dashboard refreshes).
        let rangeStart = env["TRIBUTARY_BENCH_PROMQL_ONE_STEP"] == "1" ? at : start
        for q in only.map({ [$0] }) ?? queries {
            for range in only == nil ? [false, true] : [env["TRIBUTARY_BENCH_PROMQL_RANGE"] == "1"] {
                var ours: [Double] = [], theirs: [Double] = [], wall: [Double] = []
                for _ in 0..<5 {
                    let t0 = Date()
                    if range {
                        _ = try engine.rangeQuery(q, start: rangeStart, end: at, step: 60_000, querier: querier)
                    } else {
                        _ = try engine.instantQuery(q, at: at, querier: querier)
                    }
                    ours.append(Date().timeIntervalSince(t0) * 1000)
                    let (eval, w) = try prometheus?.query(q, start: range ? rangeStart : nil, end: at, step: 60_000) ?? (.nan, .nan)
                    theirs.append(eval * 1000)
                    wall.append(w * 1000)
                }
                let o = median(ours), p = median(theirs)
                var label = (range ? "[range]   " : "[instant] ") + q
                if label.count < 90 { label += String(repeating: " ", count: 90 - label.count) }
                print("  " + label + String(format: " %9.1f  %20.1f  %9.1f  %5.2fx", o, p, median(wall), o / p))
            }
        }
        withExtendedLifetime(head) {}
    }

    struct SeriesSpec {
        let labels: Labels
        let value: (Int, Int) -> Double
    }

    static func makeSeries(instances: Int) -> [SeriesSpec] {
        var out: [SeriesSpec] = []
        let bounds = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "+Inf"]
        for i in 0..<instances {
            let common: [(String, String)] = [("instance", "host-\(i):9100"), ("job", "bench"), ("group", "lab-\(i % 10)")]
            var b = LabelsBuilder()
            for (k, v) in common { b.set(k, v) }
            b.set("__name__", "bench_http_requests_total")
            out.append(SeriesSpec(labels: b.labels()) { r, idx in Double(r * (1 + idx % 7)) })
            for (k, le) in bounds.enumerated() {
                var h = LabelsBuilder()
                for (n, v) in common { h.set(n, v) }
                h.set("__name__", "bench_request_duration_seconds_bucket")
                h.set("le", le)
                out.append(SeriesSpec(labels: h.labels()) { r, _ in Double(r * (k + 1)) })
            }
        }
        return out
    }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.isEmpty ? .nan : s[s.count / 2]
    }
}

/// A peer server process for benchmarks.
final class Peer: @unchecked Sendable {
    let process = Process()
    let port: Int
    let dir: String

    init(binary: String, arguments: (Int, String) -> [String]) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/" + binary) else {
            throw BenchError("\(binary) is not installed: run ./scripts/setup")
        }
        port = freePort()
        dir = NSTemporaryDirectory() + "tributary-bench-peer-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/" + binary)
        process.arguments = arguments(port, dir)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<150 {
            if let (status, _) = try? http(URLRequest(url: URL(string: "http://127.0.0.1:\(port)/-/ready")!)), status == 200 { return }
            Thread.sleep(forTimeInterval: 0.2)
        }
        stop()
        throw BenchError("\(binary) did not start")
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Sends remote-write bodies, four at a time.
    func write(_ bodies: [[UInt8]]) throws {
        nonisolated(unsafe) var failure: (any Error)?
        DispatchQueue.concurrentPerform(iterations: bodies.count) { i in
            var r = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/v1/write")!)
            r.httpMethod = "POST"
            r.setValue("application/x-protobuf", forHTTPHeaderField: "Content-Type")
            r.setValue("snappy", forHTTPHeaderField: "Content-Encoding")
            r.httpBody = Data(bodies[i])
            do {
                let (status, body) = try http(r)
                if status / 100 != 2 { failure = BenchError("remote write: \(status) \(String(decoding: body, as: UTF8.self))") }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }

    /// Runs a query; returns Prometheus's evalTotalTime and the wall time, in seconds.
    func query(_ q: String, start: Int64?, end: Int64, step: Int64) throws -> (Double, Double) {
        var c = URLComponents(string: "http://127.0.0.1:\(port)/api/v1/" + (start == nil ? "query" : "query_range"))!
        var items = [URLQueryItem(name: "query", value: q), URLQueryItem(name: "stats", value: "all")]
        if let start {
            items += [
                URLQueryItem(name: "start", value: String(Double(start) / 1000)), URLQueryItem(name: "end", value: String(Double(end) / 1000)),
                URLQueryItem(name: "step", value: String(Double(step) / 1000))
            ]
        } else {
            items.append(URLQueryItem(name: "time", value: String(Double(end) / 1000)))
        }
        c.queryItems = items
        c.percentEncodedQuery = c.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        let t0 = Date()
        let (_, body) = try http(URLRequest(url: c.url!))
        let wall = Date().timeIntervalSince(t0)
        guard let json = try JSONSerialization.jsonObject(with: body) as? [String: Any], let data = json["data"] as? [String: Any],
            let stats = data["stats"] as? [String: Any], let timings = stats["timings"] as? [String: Any],
            let eval = timings["evalTotalTime"] as? Double
        else {
            throw BenchError("unexpected answer to \(q): \(String(decoding: body.prefix(300), as: UTF8.self))")
        }
        return (eval, wall)
    }

    func http(_ request: URLRequest) throws -> (Int, Data) {
        let semaphore = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: (Int, Data)?
        nonisolated(unsafe) var failure: (any Error)?
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error { failure = error } else { result = ((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data()) }
            semaphore.signal()
        }.resume()
        semaphore.wait()
        if let failure { throw failure }
        guard let result else { throw BenchError("no response") }
        return result
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
