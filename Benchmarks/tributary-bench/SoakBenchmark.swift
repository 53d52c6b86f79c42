import Foundation
import TributaryModel
import TributaryWire

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A receiver that runs for weeks, with time compressed (issue "TSDB part 2"): `series`
/// node_exporter-shaped series written as `days` of 15 s samples as fast as the receiver takes
/// them, with a `retentionDays` retention, and dashboard queries over the newest hour every
/// 3 hours of data. Resident memory after hour 3 and at the end, the data directory against
/// the retention, and whether every query answered.
enum SoakBenchmark {
    static func run(series: Int, days: Int, retentionDays: Int, tributary: String) throws {
        let hour: Int64 = 3_600_000
        let rounds = days * 24 * 240
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let start = (now - Int64(days * 24 + 2) * hour) / (2 * hour) * (2 * hour)
        let config = NSTemporaryDirectory() + "tributary-soak-\(UUID().uuidString).yml"
        try "storage:\n  retention_time: \(retentionDays)d\n".write(toFile: config, atomically: true, encoding: .utf8)
        setenv("TRIBUTARY_BENCH_CONFIG", config, 1)
        defer { try? FileManager.default.removeItem(atPath: config) }
        guard let target = IngestBenchmark.allTargets(tributary: tributary).first(where: { $0.name == "tributary" }) else { return }
        let server = try IngestBenchmark.Server(target)
        defer { server.stop() }
        let load = NoisySeries(count: series)
        print("soak: \(series) series x \(days) days at 15 s (\(series * rounds) samples) as fast as taken, retention \(retentionDays)d")
        let t0 = Date()
        var failures = 0, queries = 0, failedQueries = 0
        var latencies: [Double] = []
        var rssHour3 = 0.0, rssMax = 0.0, anonHour3 = 0.0
        for r in 0..<rounds {
            let t = start + Int64(r) * 15_000
            failures += IngestBenchmark.Server.send(StorageBenchmark.encode(load.labels, round: r, timestamp: t, value: load.value), port: server.port, connections: 4)
            if r == 720 {
                rssHour3 = server.memoryKiB("VmRSS") / 1024
                anonHour3 = server.memoryKiB("RssAnon") / 1024
            }
            if r % 720 == 719 {
                rssMax = max(rssMax, server.memoryKiB("VmRSS") / 1024)
                let seconds = Double(t) / 1000
                for path in [
                    "query_range?query=\(encoded("sum by (group) (rate(node_cpu_seconds_total[5m]))"))&start=\(seconds - 3600)&end=\(seconds)&step=60",
                    "query?query=\(encoded("count(node_load1)"))&time=\(seconds)"
                ] {
                    let q0 = Date()
                    let data = try? Data(contentsOf: URL(string: "http://127.0.0.1:\(server.port)/api/v1/\(path)")!)
                    latencies.append(Date().timeIntervalSince(q0) * 1000)
                    queries += 1
                    let text = data.map { String(decoding: $0, as: UTF8.self) } ?? ""
                    if !text.contains("\"success\"") || text.contains("\"result\":[]") { failedQueries += 1 }
                }
            }
            if r % (240 * 24) == 240 * 24 - 1 {
                print(
                    String(
                        format: "  day %d: %.0f s, RSS %.0f MiB, data %.0f MiB, %d failed requests, %d of %d queries failed", (r + 1) / (240 * 24),
                        Date().timeIntervalSince(t0), server.memoryKiB("VmRSS") / 1024, Double(StorageBenchmark.directorySize(server.dir + "/data")) / 1_048_576,
                        failures, failedQueries, queries))
            }
        }
        // Let a last maintenance run apply retention to the newest blocks.
        Thread.sleep(forTimeInterval: 5)
        let rssEnd = server.memoryKiB("VmRSS") / 1024
        let anonEnd = server.memoryKiB("RssAnon") / 1024
        let elapsed = Date().timeIntervalSince(t0)
        let blocks = blockRanges(server.dir + "/data")
        let oldest = blocks.map(\.0).min() ?? 0, newest = blocks.map(\.1).max() ?? 0
        latencies.sort()
        print(String(format: "  %.2fM samples/s over %.0f s; %d failed write requests", Double(series * rounds) / elapsed / 1e6, elapsed, failures))
        print(String(format: "  RSS after hour 3 %.0f MiB, at the end %.0f MiB (%.2fx), highest seen %.0f MiB", rssHour3, rssEnd, rssEnd / max(rssHour3, 1), rssMax))
        print(
            String(
                format: "  of which anonymous (heap) %.0f MiB after hour 3, %.0f MiB at the end (%.2fx); the rest is block files mapped and touched (page cache)",
                anonHour3, anonEnd, anonEnd / max(anonHour3, 1)))
        print(
            String(
                format: "  data directory %.0f MiB: %d blocks from %.2f to %.2f days before the newest sample (retention %d days + a block range)",
                Double(StorageBenchmark.directorySize(server.dir + "/data")) / 1_048_576, blocks.count,
                Double(Int64(start) + Int64(rounds) * 15_000 - oldest) / 86_400_000, Double(Int64(start) + Int64(rounds) * 15_000 - newest) / 86_400_000,
                retentionDays))
        print(
            String(
                format: "  queries: %d, failed %d, latency median %.1f ms, max %.1f ms", queries, failedQueries, latencies.isEmpty ? 0 : latencies[latencies.count / 2],
                latencies.last ?? 0))
        // An operator's restart: SIGTERM, start again, time until a query over the newest
        // hour answers (blocks opened, the WAL's head part replayed).
        server.pause()
        let newestSecond = Double(start + Int64(rounds - 1) * 15_000) / 1000
        let restart = try server.restart(query: "count(node_load1)", at: newestSecond)
        print(String(format: "  restart with %d blocks: %.2f s until the first query answered", blocks.count, restart))
    }

    static func encoded(_ q: String) -> String { q.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "" }

    /// (minTime, maxTime) of each block under `dir`.
    static func blockRanges(_ dir: String) -> [(Int64, Int64)] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        return names.filter { $0.count == 26 }.compactMap { name in
            guard let meta = FileManager.default.contents(atPath: "\(dir)/\(name)/meta.json"),
                let json = try? JSONSerialization.jsonObject(with: meta) as? [String: Any],
                let minT = json["minTime"] as? Int64 ?? (json["minTime"] as? Int).map(Int64.init),
                let maxT = json["maxTime"] as? Int64 ?? (json["maxTime"] as? Int).map(Int64.init)
            else { return nil }
            return (minT, maxT)
        }
    }
}
