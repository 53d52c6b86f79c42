import Foundation
import TributaryModel

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Dashboard query latency over HTTP (issue "Queries at dashboard speed"): each server in turn
/// gets the same node_exporter-like series over remote write and is let settle (its CPU under 5 %
/// of a core for a second, at most 3 minutes); all stay up, and every query is then timed as a
/// dashboard sends it (GET /api/v1/query or query_range, `Accept-Encoding: gzip`; timed to the
/// answer's last byte by a plain socket client, ``PlainGet``), median of five, the servers asked
/// in turn round by round (a slow moment of the machine falls on all of them). Cold: `nocache=1`
/// (VictoriaMetrics's rollup cache and ours off; Prometheus has none). Warm: an open dashboard
/// refreshed while its agents keep writing: the window one minute back asked first, then five
/// times a new scrape of every series is written (15 s later) and the window moved to it, each
/// refresh timed (the writes are not). Range windows lie on the step grid, as Grafana sends them.
/// Also each server's resident memory after loading and its peak, the number of series each
/// answer holds (the same for all, or the comparison is void), each server's round trip for a
/// query that reads nothing, and our warm/cold ratio both per panel (geometric mean) and for
/// the range panels' times summed (a whole dashboard's refresh). Beside the wall times, each
/// server's CPU time (all its threads) while it answered each warm refresh.
enum QueryBenchmark {
    struct Query {
        let expr: String
        let instant: Bool
    }

    static let queries = [
        Query(expr: "sum by (group) (rate(node_cpu_seconds_total[5m]))", instant: true),
        Query(expr: "sum by (group) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m]))", instant: false),
        Query(expr: "topk(5, rate(node_network_receive_bytes_total[5m]))", instant: false),
        Query(expr: "avg by (group) (node_memory_MemAvailable_bytes{instance=~\"lab-host-1.*\"})", instant: false),
        Query(expr: "max_over_time(node_load1[10m])", instant: false),
        // Five more that node and gateway dashboards use.
        Query(expr: "100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[5m])))", instant: false),
        Query(expr: "sum by (group) (rate(node_network_transmit_bytes_total{device!=\"lo\"}[5m])) * 8", instant: false),
        Query(expr: "1 - node_filesystem_avail_bytes / node_filesystem_size_bytes", instant: false),
        Query(expr: "node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes", instant: false),
        Query(expr: "count by (group) (node_load1)", instant: false)
    ]

    static func run(series: Int, hours: Int, range: Int, step: Int, tributary: String) throws {
        let rounds = hours * 240
        // TRIBUTARY_BENCH_START=SECONDS: the data's first timestamp, for two runs (two builds held
        // side by side) with the same chunks; else two hours back from now.
        let firstSecond = ProcessInfo.processInfo.environment["TRIBUTARY_BENCH_START"].flatMap(Int64.init)
        let start = (firstSecond ?? (Int64(Date().timeIntervalSince1970) - Int64(rounds) * 15 - 120)) * 1000
        let labels = NodeExporterLoad.series(count: series)
        let end = Double(start) / 1000 + Double(rounds - 1) * 15
        print("query: \(series) series x \(hours)h at 15 s (\(series * rounds) samples); range queries over the last \(range / 60) min, step \(step) s; median of 5 over HTTP")
        // To profile the warm path by hand: TRIBUTARY_BENCH_QUERIES=1,4 runs those queries
        // alone (by index), TRIBUTARY_BENCH_WARM_ROUNDS=N refreshes each (the median of all).
        let env = ProcessInfo.processInfo.environment
        let warmRounds = max(1, env["TRIBUTARY_BENCH_WARM_ROUNDS"].flatMap(Int.init) ?? 5)
        let queries = env["TRIBUTARY_BENCH_QUERIES"].map { list in list.split(separator: ",").compactMap { Int($0) }.filter(Self.queries.indices.contains).map { Self.queries[$0] } } ?? Self.queries
        let targets = IngestBenchmark.targets(tributary: tributary)
        // Every server is loaded first and kept up; the queries then go to each in turn, round by
        // round, so that the machine's slow moments (these are shared virtual machines) fall on
        // all of them alike rather than on whichever was measured then.
        var servers: [IngestBenchmark.Server] = []
        defer { for server in servers { server.stop() } }
        var loadedRSS: [Double] = []
        for target in targets {
            let server = try IngestBenchmark.Server(target)
            servers.append(server)
            let t0 = Date()
            var failures = 0
            // The next round is encoded on another thread while this one is sent.
            var next = NodeExporterLoad.round(series: labels, perRequest: 2000, round: 0, startMs: start)
            for r in 0..<rounds {
                let current = next
                let encoded = NSCondition()
                nonisolated(unsafe) var upcoming: [[UInt8]]? = nil
                if r + 1 < rounds {
                    Thread {
                        let bodies = NodeExporterLoad.round(series: labels, perRequest: 2000, round: r + 1, startMs: start)
                        encoded.lock()
                        upcoming = bodies
                        encoded.signal()
                        encoded.unlock()
                    }.start()
                }
                failures += IngestBenchmark.Server.send(current, port: server.port, connections: 4)
                if r + 1 < rounds {
                    encoded.lock()
                    while upcoming == nil { encoded.wait() }
                    next = upcoming ?? []
                    encoded.unlock()
                }
                if r % 240 == 239 { print("    \(target.name): \(r + 1) of \(rounds) rounds loaded") }
            }
            Thread.sleep(forTimeInterval: 2)
            let rssLoaded = server.memoryKiB("VmRSS")
            loadedRSS.append(rssLoaded)
            print(String(format: "  %@: loaded in %.0f s (%d failed requests), RSS %.0f MiB", target.name, Date().timeIntervalSince(t0), failures, rssLoaded / 1024))
            // Dashboards query a server that is past its ingest burst: each server's own work
            // after the load (our block cut, VictoriaMetrics's merges, Prometheus's compaction)
            // is let finish before timing, as it is for all of them.
            let settled = server.settle(within: 180)
            print(String(format: "  %@: settled after %.0f s%@", target.name, settled.seconds, settled.quiet ? "" : " (still busy: measured anyway)"))
        }
        // The servers loaded first have idled since; any late work of theirs is let finish too.
        for server in servers.dropLast() { _ = server.settle(within: 60) }
        // TRIBUTARY_BENCH_HOLD=SECONDS: keep the loaded servers up that long (to profile one by
        // hand: the ports and the data's end time are printed) before the queries run.
        if let hold = ProcessInfo.processInfo.environment["TRIBUTARY_BENCH_HOLD"].flatMap(Double.init) {
            for server in servers { print("  holding \(server.target.name) on port \(server.port) for \(Int(hold)) s; data ends at \(end)") }
            // Seen now even when stdout is a file or a pipe (block-buffered), not at the run's end.
            fflush(nil)
            Thread.sleep(forTimeInterval: hold)
        }
        var rows = [[(cold: Double, warm: Double, series: Int)]](repeating: [], count: servers.count)
        // The server's CPU time (all its threads) while it answered each warm refresh, median:
        // for comparing two builds, free of the waits a wall time includes (run to run on a
        // shared machine it still moved up to ~10 %).
        var refreshCPU = [[Double]](repeating: [], count: servers.count)
        var failures = 0
        var written = 0  // scrapes written after the loaded data, while dashboards refresh
        // The servers in a different order each round (rotated), so none is always first.
        func inTurn(_ round: Int, _ body: (Int, IngestBenchmark.Server) -> Void) {
            for k in servers.indices {
                let i = (k + round) % servers.count
                body(i, servers[i])
            }
        }
        for q in queries {
            func url(_ shift: Double, cache: Bool) -> String {
                let e = q.expr.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                let base = "/api/v1/"
                let nocache = cache ? "" : "&nocache=1"
                if q.instant { return base + "query?query=\(e)&time=\(end - shift)\(nocache)" }
                // On the step grid, as Grafana's data source asks (`alignRange`: start rounded
                // down, end up), so a refresh 15 s later at a 30 s step asks the grid's next
                // window, not one between its steps.
                let s = Double(step)
                let from = ((end - shift - Double(range)) / s).rounded(.down) * s
                let to = ((end - shift) / s).rounded(.up) * s
                return base + "query_range?query=\(e)&start=\(from)&end=\(to)&step=\(step)\(nocache)"
            }
            func time(_ server: IngestBenchmark.Server, _ u: String) -> (Double, Int) {
                guard let answer = PlainGet.get(port: server.port, path: u) else { return (0, -1) }
                return (answer.milliseconds, Self.seriesCount(answer.body))
            }
            // Cold: five rounds, each server once a round.
            var colds = [[Double]](repeating: [], count: servers.count)
            var counts = [Int](repeating: -1, count: servers.count)
            for round in 0..<5 {
                inTurn(round) { i, server in
                    let (ms, n) = time(server, url(0, cache: false))
                    colds[i].append(ms)
                    counts[i] = n
                }
            }
            // Warm: each dashboard opened a minute back, then refreshed after each new scrape,
            // which each server is sent just before its refresh.
            for server in servers { _ = time(server, url(60 - Double(written) * 15, cache: true)) }
            var warms = [[Double]](repeating: [], count: servers.count)
            var warmCPU = [[Double]](repeating: [], count: servers.count)
            for round in 0..<warmRounds {
                let scrape = NodeExporterLoad.round(series: labels, perRequest: 2000, round: rounds + written, startMs: start)
                written += 1
                inTurn(round) { i, server in
                    failures += IngestBenchmark.Server.send(scrape, port: server.port, connections: 4)
                    let cpu = server.cpuNanoseconds()
                    warms[i].append(time(server, url(-Double(written) * 15, cache: true)).0)
                    warmCPU[i].append(Double(server.cpuNanoseconds() &- cpu) / 1e6)
                }
            }
            // TRIBUTARY_BENCH_SHOW_REFRESHES=1: each refresh's time in order, not only the
            // median (the first refreshes after a dashboard opens may differ from the rest).
            if env["TRIBUTARY_BENCH_SHOW_REFRESHES"] == "1" {
                for (i, server) in servers.enumerated() {
                    print("    \(server.target.name) refreshes of \(q.expr): " + warms[i].map { String(format: "%.1f", $0) }.joined(separator: " ") + " ms")
                }
            }
            for i in servers.indices {
                let cold = colds[i].sorted()[colds[i].count / 2]
                let warm = warms[i].sorted()[warms[i].count / 2]
                rows[i].append((cold, warm, counts[i]))
                refreshCPU[i].append(warmCPU[i].sorted()[warmCPU[i].count / 2])
            }
        }
        if failures > 0 { print("  \(failures) writes failed while dashboards refreshed") }
        var table: [String: [(cold: Double, warm: Double, series: Int)]] = [:]
        for (i, server) in servers.enumerated() { table[server.target.name] = rows[i] }
        // The HTTP round trip of a query that reads nothing, the floor under every panel's
        // time (a small panel's refresh cannot go below it).
        var trivial = [[Double]](repeating: [], count: servers.count)
        for round in 0..<21 {
            inTurn(round) { i, server in
                if let ms = PlainGet.get(port: server.port, path: "/api/v1/query?query=vector(1)&time=\(end)")?.milliseconds { trivial[i].append(ms) }
            }
        }
        let floors = servers.enumerated().map { i, server in
            let sorted = trivial[i].sorted()
            return (server.target.name, sorted.isEmpty ? nil : sorted[sorted.count / 2])
        }
        // The peak, and at the end how much of the resident memory is the process's own and how
        // much is files mapped into it (page cache the kernel may take back: our blocks, read
        // through mmap, are most of it after a 6 h query).
        let memory = servers.enumerated().map { i, server in
            (server.target.name, loadedRSS[i], server.memoryKiB("VmHWM"), server.memoryKiB("RssAnon"), server.memoryKiB("RssFile"))
        }
        let names = targets.map(\.name)
        print("  query                                                                     " + names.map { $0.padding(toLength: 27, withPad: " ", startingAt: 0) }.joined())
        print("                                                                            " + names.map { _ in "cold ms  warm ms  series   " }.joined())
        for (i, q) in queries.enumerated() {
            var line = (q.expr + (q.instant ? " (instant)" : "")).padding(toLength: 74, withPad: " ", startingAt: 0)
            for name in names {
                guard let r = table[name]?[i] else { continue }
                line += String(format: "  %7.1f  %7.1f  %6d  ", r.cold, r.warm, r.series)
            }
            print("  " + line)
        }
        let cpuByServer = servers.indices.map { i in
            let each = refreshCPU[i].map { String(format: "%.1f", $0) }.joined(separator: " / ")
            return "\(servers[i].target.name) \(each) (summed " + String(format: "%.1f", refreshCPU[i].reduce(0, +)) + ")"
        }
        print("  server CPU per warm refresh, median (ms, all the server's threads, panels in order): " + cpuByServer.joined(separator: "; "))
        for (name, ms) in floors {
            print("  \(name): a query that reads nothing (vector(1)) " + (ms.map { String(format: "answers in %.2f ms", $0) } ?? "failed every time"))
        }
        if let ours = table["tributary"] {
            for other in names.dropFirst() {
                guard let theirs = table[other] else { continue }
                print("  tributary vs \(other), cold: " + summary(zip(ours, theirs).map { $0.cold / max($1.cold, 0.01) }))
                guard other == "tributary-baseline" else { continue }
                let warm = zip(zip(queries, ours), theirs).filter { !$0.0.0.instant }.map { $0.0.1.warm / max($0.1.warm, 0.01) }
                print("  tributary vs \(other), warm (range queries): " + summary(warm))
            }
            // Instant queries are not cached (the results cache is for range queries).
            let ranges = zip(queries, ours).filter { !$0.0.instant }.map(\.1)
            print("  tributary warm/cold (range queries): " + summary(ranges.map { $0.warm / max($0.cold, 0.01) }))
            // A dashboard refreshes all its panels: their times summed, warm against cold.
            let sums = ranges.reduce((0.0, 0.0)) { ($0.0 + $1.warm, $0.1 + $1.cold) }
            print(String(format: "  tributary warm/cold, the range panels' times summed: %.2fx (%.1f ms against %.1f)", sums.0 / max(sums.1, 0.01), sums.0, sums.1))
            for (i, q) in queries.enumerated() {
                let counts = names.compactMap { table[$0]?[i].series }
                guard Set(counts).count > 1 else { continue }
                print("  WARNING: answers differ in series count for \(q.expr): \(counts)")
                // Seen at 100k x 6 h (7, 5, 11), and checked step by step on smaller data: the
                // rates differ only where a counter starts inside the window, and the top-k
                // sets elsewhere only among series tied at the k-th value.
                if q.expr.hasPrefix("topk") || q.expr.hasPrefix("bottomk") {
                    print("    (expected where the range reaches the data's start: Prometheus 2.42 extrapolates a counter's start and breaks ties between equal values differently from 3.x, which we follow)")
                }
            }
        }
        for (name, loaded, peak, anon, file) in memory {
            print(
                String(
                    format: "  %-17@ RSS after load %6.0f MiB, peak %6.0f MiB; at the end %.0f MiB its own, %.0f MiB mapped files", name as NSString,
                    loaded / 1024, peak / 1024, anon / 1024, file / 1024))
        }
    }

    /// `ratios` as the bench prints them: their geometric mean and the worst (largest).
    static func summary(_ ratios: [Double]) -> String {
        let mean = exp(ratios.map { log(max($0, 1e-6)) }.reduce(0, +) / Double(max(ratios.count, 1)))
        return String(format: "geometric mean %.2fx, worst %.2fx", mean, ratios.max() ?? 0)
    }

    /// Series in a Prometheus API answer (`"metric":` occurrences), or -1 when it failed.
    /// Counted on the bytes: Foundation's `components(separatedBy:)` took the client seconds
    /// of CPU for a 9 MB answer, during which the servers sat idle between requests.
    static func seriesCount(_ body: [UInt8]) -> Int {
        guard PlainGet.find(body, Array("\"status\":\"success\"".utf8)) != nil else { return -1 }
        let metric = Array("\"metric\":".utf8)
        var count = 0
        var next = 0
        while let at = PlainGet.find(body, metric, from: next) {
            count += 1
            next = at + metric.count
        }
        return count
    }
}

extension IngestBenchmark.Server {
    /// Waits until the server used under 5 % of a core over a second, for at most `limit`
    /// seconds; how long it waited and whether it went quiet.
    func settle(within limit: Double) -> (seconds: Double, quiet: Bool) {
        let t0 = Date()
        var before = cpuSeconds()
        while Date().timeIntervalSince(t0) < limit {
            Thread.sleep(forTimeInterval: 1)
            let now = cpuSeconds()
            if now - before < 0.05 { return (Date().timeIntervalSince(t0), true) }
            before = now
        }
        return (Date().timeIntervalSince(t0), false)
    }

    /// A field of /proc/PID/status in KiB (VmRSS, VmHWM, RssAnon, RssFile).
    func memoryKiB(_ field: String) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Double(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        return 0
    }
}
