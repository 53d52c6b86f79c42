import Foundation
import TributaryModel

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Remote-write ingest while dashboards query (issue "Queries at dashboard speed"): each server
/// gets an hour of 20k node_exporter-like series, then 120 more rounds are written alone, then
/// 120 more while two clients loop a heavy range query over that hour (40 rounds, a few
/// seconds, left the ratio swinging from 0.44 to 0.67 between runs of the same build). Reported per server:
/// samples/s and p99 request latency in both phases, and how many queries the two clients
/// finished. Same requests for all, over HTTP, 2 writer connections. The queries ask
/// `nocache=1` (VictoriaMetrics and ours honour it): the same window asked again would
/// otherwise come from a results cache, and the point is ingest beside real query work. The
/// looping clients use ``PlainGet`` (a blocking socket), not `Data(contentsOf:)`: waiting on
/// answers of 100–700 ms, FoundationNetworking's loop burned 0.5–0.75 of a core in this process
/// (per-thread CPU from /proc, same run), a third of a two-core machine taken from every server
/// alike by a client that a real dashboard runs elsewhere.
enum IngestUnderQueryBenchmark {
    static let query = "sum by (group) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m]))"

    static func run(series: Int, tributary: String) throws {
        let preload = 240, measured = 120
        let rounds = preload + 2 * measured
        let start = (Int64(Date().timeIntervalSince1970) - Int64(rounds) * 15 - 120) * 1000
        let requests = NodeExporterLoad.requests(series: NodeExporterLoad.series(count: series), perRequest: 2000, rounds: rounds, startMs: start)
        let perRound = (series + 1999) / 2000
        let queryEnd = Double(start + Int64(preload) * 15_000) / 1000
        print("ingest under query: \(series) series, \(preload) rounds preloaded, \(measured) rounds alone, \(measured) while 2 clients loop a 1h range query")
        let targets = IngestBenchmark.targets(tributary: tributary)
        var rows: [(String, Double, Double, Double, Double)] = []
        for target in targets {
            let server = try IngestBenchmark.Server(target)
            defer { server.stop() }
            for r in 0..<preload { _ = IngestBenchmark.Server.send(Array(requests[(r * perRound)..<((r + 1) * perRound)]), port: server.port, connections: 4) }
            func phase(_ first: Int) -> (rate: Double, p99: Double) {
                var latencies: [Double] = []
                let t0 = Date()
                for r in first..<(first + measured) {
                    latencies += IngestBenchmark.Server.sendTimed(Array(requests[(r * perRound)..<((r + 1) * perRound)]), port: server.port, connections: 2)
                }
                let seconds = Date().timeIntervalSince(t0)
                latencies.sort()
                let p99 = latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
                return (Double(measured * series) / seconds, p99)
            }
            // The query alone first, over HTTP (median of five), as a dashboard sees it.
            let url0 = URL(string: "http://127.0.0.1:\(server.port)/api/v1/query_range?query=\(query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")&start=\(queryEnd - 3600)&end=\(queryEnd)&step=15&nocache=1")!
            var times: [Double] = []
            for _ in 0..<5 {
                let t0 = Date()
                _ = try? Data(contentsOf: url0)
                times.append(Date().timeIntervalSince(t0))
            }
            times.sort()
            print(String(format: "  %-17@ the query alone: median %.0f ms of 5", target.name as NSString, times[2] * 1e3))
            let alone = phase(preload)
            let stop = NSLock()
            nonisolated(unsafe) var stopping = false
            nonisolated(unsafe) var queries = 0
            let path = "/api/v1/query_range?query=\(query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")&start=\(queryEnd - 3600)&end=\(queryEnd)&step=15&nocache=1"
            let clients = (0..<2).map { _ in
                Thread {
                    while true {
                        stop.lock()
                        let done = stopping
                        stop.unlock()
                        if done { return }
                        if PlainGet.get(port: server.port, path: path) != nil {
                            stop.lock()
                            queries += 1
                            stop.unlock()
                        }
                    }
                }
            }
            for c in clients { c.start() }
            Thread.sleep(forTimeInterval: 1)
            let busy = phase(preload + measured)
            stop.lock()
            stopping = true
            let finished = queries
            stop.unlock()
            rows.append((target.name, alone.rate, alone.p99, busy.rate, busy.p99))
            print(
                String(
                    format: "  %-17@ alone %6.0fk samples/s p99 %6.1f ms | while 2 dashboards query %6.0fk samples/s p99 %7.1f ms (%.2fx of alone; %d queries done)",
                    target.name as NSString, alone.rate / 1e3, alone.p99 * 1e3, busy.rate / 1e3, busy.p99 * 1e3, busy.rate / alone.rate, finished))
            Thread.sleep(forTimeInterval: 2)  // let the clients' last queries end before the server stops
        }
    }
}
