import Foundation
import TributaryModel
import TributaryTestSupport
import TributaryWire

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Remote-write ingest throughput and CPU per sample (issue "The receiver"): one load generator
/// (this process, requests encoded before the clock starts) drives our receiver, Debian's
/// victoria-metrics and prometheus --web.enable-remote-write-receiver, each started fresh, with
/// the same load: node_exporter-like series, 2,000 per request, 4 connections, rounds in time
/// order. The load generator shares the machine with the server under test, the same for all.
enum IngestBenchmark {
    struct Target {
        let name: String
        let binary: String
        let arguments: (Int, String) -> [String]
        let readyPath: String
    }

    static func run(series: Int, rounds: Int, tributary: String, existingPort: Int? = nil, replicas: Int = 1) throws {
        let start = (Int64(Date().timeIntervalSince1970) - Int64(rounds) * 15 - 120) * 1000
        let requests: [[UInt8]]
        if replicas == 2 {
            // Per round, replica a's requests then b's (its samples 700 ms later): the receiver
            // keeps one, the others store both.
            let a = NodeExporterLoad.requests(series: NodeExporterLoad.series(count: series, replica: "a"), perRequest: 2000, rounds: rounds, startMs: start)
            let b = NodeExporterLoad.requests(series: NodeExporterLoad.series(count: series, replica: "b"), perRequest: 2000, rounds: rounds, startMs: start + 700)
            let perRoundA = (series + 1999) / 2000
            var interleaved: [[UInt8]] = []
            for r in 0..<rounds {
                let range = (r * perRoundA)..<((r + 1) * perRoundA)
                interleaved += a[range]
                interleaved += b[range]
            }
            requests = interleaved
        } else {
            requests = NodeExporterLoad.requests(series: NodeExporterLoad.series(count: series), perRequest: 2000, rounds: rounds, startMs: start)
        }
        let perRound = replicas * ((series + 1999) / 2000)
        let samples = replicas * series * rounds
        print(
            "ingest: \(series) series x \(replicas) replica(s) x \(rounds) rounds = \(samples) samples, \(requests.count) requests of 2,000 series, 4 connections (\(tributary))")
        let targets = Self.targets(tributary: tributary)
        if let existingPort {
            // Load only, against a receiver started elsewhere (for profiling it).
            let t0 = Date()
            var failures = 0
            for r in 0..<rounds {
                failures += Server.send(Array(requests[(r * perRound)..<((r + 1) * perRound)]), port: existingPort, connections: 4)
            }
            print(String(format: "  port %d: %.2fM samples/s (%d failed requests)", existingPort, Double(samples) / Date().timeIntervalSince(t0) / 1e6, failures))
            return
        }
        var results: [(String, Double, Double)] = []
        for target in targets {
            let server = try Server(target)
            defer { server.stop() }
            let cpuBefore = server.cpuSeconds()
            let t0 = Date()
            var failures = 0
            for r in 0..<rounds {
                let batch = Array(requests[(r * perRound)..<((r + 1) * perRound)])
                failures += Server.send(batch, port: server.port, connections: 4)
            }
            let seconds = Date().timeIntervalSince(t0)
            let cpu = server.cpuSeconds() - cpuBefore
            let rate = Double(samples) / seconds
            let cpuPerMillion = cpu / (Double(samples) / 1e6)
            results.append((target.name, rate, cpuPerMillion))
            print(
                String(
                    format: "  %-17@ %6.2fM samples/s   %5.2f CPU-s per million samples   (%d failed requests)",
                    target.name as NSString, rate / 1e6, cpuPerMillion, failures))
        }
        if let ours = results.first {
            for other in results.dropFirst() {
                print(String(format: "  tributary vs %-17@ throughput %.2fx, CPU per sample %.2fx", other.0 as NSString, ours.1 / other.1, ours.2 / other.2))
            }
        }
    }

    /// Our receiver, Debian's victoria-metrics and prometheus, started fresh in that order
    /// (TRIBUTARY_BENCH_TARGETS=tributary,... keeps only those named).
    static func targets(tributary: String) -> [Target] {
        let all = allTargets(tributary: tributary)
        guard let names = ProcessInfo.processInfo.environment["TRIBUTARY_BENCH_TARGETS"] else { return all }
        let kept = Set(names.split(separator: ",").map(String.init))
        return all.filter { kept.contains($0.name) }
    }

    static func allTargets(tributary: String) -> [Target] {
        func receiver(_ name: String, _ binary: String) -> Target {
            Target(
                name: name, binary: binary,
                arguments: { port, dir in
                    // TRIBUTARY_BENCH_CONFIG: a receiver.yml for our side (e.g. query.parallelism: 1).
                    let config = ProcessInfo.processInfo.environment["TRIBUTARY_BENCH_CONFIG"].map { ["--config", $0] } ?? []
                    return ["receive", "--listen", "127.0.0.1:\(port)", "--data-dir", dir + "/data"] + config
                }, readyPath: "/-/ready")
        }
        // TRIBUTARY_BENCH_BASELINE: another build of ours, measured beside this one in the same
        // run (a change worth a few percent is lost between two runs on these machines).
        let baseline = ProcessInfo.processInfo.environment["TRIBUTARY_BENCH_BASELINE"].map { [receiver("tributary-baseline", $0)] } ?? []
        return [receiver("tributary", tributary)] + baseline + [
            Target(
                name: "victoria-metrics", binary: "/usr/bin/victoria-metrics",
                arguments: { port, dir in
                    ["-httpListenAddr=127.0.0.1:\(port)", "-storageDataPath=\(dir)/data", "-loggerLevel=ERROR"]
                }, readyPath: "/health"),
            Target(
                name: "prometheus", binary: "/usr/bin/prometheus",
                arguments: { port, dir in
                    _ = FileManager.default.createFile(atPath: dir + "/p.yml", contents: Data("global:\n  scrape_interval: 1m\n".utf8))
                    return [
                        "--config.file=\(dir)/p.yml", "--storage.tsdb.path=\(dir)/data", "--web.listen-address=127.0.0.1:\(port)",
                        "--web.enable-remote-write-receiver", "--log.level=error"
                    ]
                }, readyPath: "/-/ready")
        ]
    }

    final class Server: @unchecked Sendable {
        var process = Process()
        let port: Int
        let dir: String
        let target: Target

        init(_ target: Target, keepData: Bool = false) throws {
            guard FileManager.default.isExecutableFile(atPath: target.binary) else { throw BenchError("\(target.binary) not found (build release / run scripts/setup)") }
            self.target = target
            port = freePort()
            dir = NSTemporaryDirectory() + "tributary-ingest-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try launch()
        }

        /// Starts the server process on this port and directory.
        private func spawn() throws {
            process = Process()
            process.executableURL = URL(fileURLWithPath: target.binary)
            process.arguments = target.arguments(port, dir)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        private func launch() throws {
            try spawn()
            for _ in 0..<200 {
                if let data = try? Data(contentsOf: URL(string: "http://127.0.0.1:\(port)\(target.readyPath)")!), !data.isEmpty { return }
                // Gone already (its port taken, say): said at once, not after the whole wait.
                guard process.isRunning else { throw BenchError("\(target.name) exited with status \(process.terminationStatus) before it answered on port \(port)") }
                Thread.sleep(forTimeInterval: 0.1)
            }
            stop()
            throw BenchError("\(target.name) did not answer \(target.readyPath) on port \(port) within 20 s")
        }

        /// Stops the server (SIGTERM, as an operator's restart), keeping its data.
        func pause() {
            guard process.isRunning else { return }
            process.terminate()
            for _ in 0..<600 where process.isRunning { Thread.sleep(forTimeInterval: 0.1) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }

        /// Starts the server again on its data; returns the seconds until `query` at `time`
        /// answers with a non-empty result.
        func restart(query: String, at time: Double) throws -> Double {
            let t0 = Date()
            try spawn()
            let q = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let url = URL(string: "http://127.0.0.1:\(port)/api/v1/query?query=\(q)&time=\(time)")!
            for _ in 0..<6000 {
                if let data = try? Data(contentsOf: url), let text = String(data: data, encoding: .utf8), text.contains("\"success\""), !text.contains("\"result\":[]") {
                    return Date().timeIntervalSince(t0)
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
            throw BenchError("\(target.name) did not answer after a restart")
        }

        func stop() {
            pause()
            try? FileManager.default.removeItem(atPath: dir)
        }

        /// utime + stime of the server process, in seconds.
        func cpuSeconds() -> Double {
            guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return 0 }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) else { return 0 }
            return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
        }

        /// CPU time of all the server's threads so far, in nanoseconds (each thread's
        /// `schedstat`): precise where ``cpuSeconds()`` counts clock ticks of 10 ms.
        func cpuNanoseconds() -> UInt64 {
            let tasks = "/proc/\(process.processIdentifier)/task"
            guard let threads = try? FileManager.default.contentsOfDirectory(atPath: tasks) else { return 0 }
            return threads.reduce(0) { total, thread in
                guard let stat = try? String(contentsOfFile: "\(tasks)/\(thread)/schedstat", encoding: .utf8),
                    let first = stat.split(separator: " ").first, let ns = UInt64(first)
                else { return total }
                return total + ns
            }
        }

        /// Sends one round's requests over `connections` workers; returns the failures.
        static func send(_ bodies: [[UInt8]], port: Int, connections: Int) -> Int {
            let lock = NSLock()
            nonisolated(unsafe) var failures = 0
            concurrently(bodies.count, workers: connections) { i in
                if !post(bodies[i], port: port) {
                    lock.lock()
                    failures += 1
                    lock.unlock()
                }
            }
            return failures
        }

        /// As ``send(_:port:connections:)``, returning each request's latency in seconds.
        static func sendTimed(_ bodies: [[UInt8]], port: Int, connections: Int) -> [Double] {
            let lock = NSLock()
            nonisolated(unsafe) var latencies: [Double] = []
            concurrently(bodies.count, workers: connections) { i in
                let t0 = Date()
                _ = post(bodies[i], port: port)
                let took = Date().timeIntervalSince(t0)
                lock.lock()
                latencies.append(took)
                lock.unlock()
            }
            return latencies
        }

        /// Calls `body` for 0..<count, each index once, from `workers` threads taking the next.
        static func concurrently(_ count: Int, workers: Int, _ body: @Sendable (Int) -> Void) {
            let lock = NSLock()
            nonisolated(unsafe) var index = 0
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while true {
                    lock.lock()
                    let i = index
                    index += 1
                    lock.unlock()
                    guard i < count else { return }
                    body(i)
                }
            }
        }

        /// One remote-write request; true when answered 2xx.
        static func post(_ body: [UInt8], port: Int) -> Bool {
            var r = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/v1/write")!)
            r.httpMethod = "POST"
            r.setValue("application/x-protobuf", forHTTPHeaderField: "Content-Type")
            r.setValue("snappy", forHTTPHeaderField: "Content-Encoding")
            r.setValue("0.1.0", forHTTPHeaderField: "X-Prometheus-Remote-Write-Version")
            r.httpBody = Data(body)
            let done = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var ok = false
            URLSession.shared.dataTask(with: r) { _, response, error in
                ok = error == nil && ((response as? HTTPURLResponse)?.statusCode ?? 0) / 100 == 2
                done.signal()
            }.resume()
            done.wait()
            return ok
        }
    }
}
