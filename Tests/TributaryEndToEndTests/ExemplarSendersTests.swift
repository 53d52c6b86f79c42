import Foundation
import Testing
import TributaryTestSupport

/// Exemplars end to end: an OpenMetrics target whose exemplars change every scrape, scraped by
/// Debian's prometheus 2.42 (server mode with `exemplar-storage`, and agent mode) and by our
/// agent, all with `send_exemplars: true`, writing to our receiver binary. What the receiver's
/// `query_exemplars` answers equals what Prometheus itself holds, and survives a SIGKILL.
@Suite(.serialized) struct ExemplarSendersTests {
    struct Held: Hashable, CustomStringConvertible {
        var series: [String: String]
        var labels: [String: String]
        var value: String
        var timestamp: Double
        var description: String { "\(series["job"] ?? "")/\(series["__name__"] ?? "") \(labels) \(value) @\(timestamp)" }
    }

    static func exemplars(_ base: String, _ query: String, start: Double, end: Double) throws -> [Held] {
        let q = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let json = try httpJSON(base + "/api/v1/query_exemplars?query=\(q)&start=\(start)&end=\(end)")
        guard json["status"] as? String == "success" else { throw TestFailure("query_exemplars failed: \(json)") }
        var out: [Held] = []
        for series in json["data"] as? [[String: Any]] ?? [] {
            let labels = series["seriesLabels"] as? [String: String] ?? [:]
            for e in series["exemplars"] as? [[String: Any]] ?? [] {
                out.append(
                    Held(
                        series: labels, labels: e["labels"] as? [String: String] ?? [:], value: e["value"] as? String ?? "",
                        timestamp: (e["timestamp"] as? NSNumber)?.doubleValue ?? 0))
            }
        }
        return out.sorted { ($0.timestamp, $0.description) < ($1.timestamp, $1.description) }
    }

    static func target() throws -> PeerProcess {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts/openmetrics-target.py").standardized.path
        return try PeerProcess("/usr/bin/python3") { port, _ in [script, "\(port)"] }
    }

    @Test func prometheusAndOurAgentSendExemplarsThatReadBackEqual() async throws {
        try await AgentProcessTests.onThread { check in
            let dir = NSTemporaryDirectory() + "tributary-exemplars-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: dir) }
            var receiver = try AgentProcessTests.receiver(dir: dir)
            defer { receiver.stop() }
            let base = "http://127.0.0.1:\(receiver.port)"
            let target = try Self.target()
            defer { target.stop(); target.removeDirectory() }
            func scrapeConfig(_ job: String) -> String {
                """
                global: {scrape_interval: 1s}
                scrape_configs:
                  - job_name: \(job)
                    static_configs: [{targets: ["127.0.0.1:\(target.port)"]}]
                remote_write:
                  - url: \(base)/api/v1/write
                    send_exemplars: true
                    queue_config: {batch_send_deadline: 500ms, min_backoff: 50ms, max_backoff: 500ms}

                """
            }
            let server = try PeerProcess("prometheus", readyPath: "/-/ready") { port, pdir in
                try scrapeConfig("prom-server").write(toFile: pdir + "/p.yml", atomically: true, encoding: .utf8)
                return [
                    "--enable-feature=exemplar-storage", "--config.file=\(pdir)/p.yml", "--storage.tsdb.path=\(pdir)/data",
                    "--web.listen-address=127.0.0.1:\(port)"
                ]
            }
            defer { server.stop(); server.removeDirectory() }
            let promAgent = try PeerProcess("prometheus", readyPath: "/-/ready") { port, pdir in
                try scrapeConfig("prom-agent").write(toFile: pdir + "/p.yml", atomically: true, encoding: .utf8)
                return [
                    "--enable-feature=agent,exemplar-storage", "--config.file=\(pdir)/p.yml", "--storage.agent.path=\(pdir)/data",
                    "--web.listen-address=127.0.0.1:\(port)"
                ]
            }
            defer { promAgent.stop(); promAgent.removeDirectory() }
            let ours = try AgentProcessTests.agent { port, adir in
                "listen: 127.0.0.1:\(port)\nstorage: {path: \(adir)/agent}\n" + scrapeConfig("tributary-agent")
            }
            defer { ours.stop(); ours.removeDirectory() }
            let start = Date().timeIntervalSince1970
            Thread.sleep(forTimeInterval: 10)
            // Exemplars up to a cutoff two seconds ago have been delivered (deadline 500 ms).
            let cutoff = Date().timeIntervalSince1970 - 2
            Thread.sleep(forTimeInterval: 1.5)

            // Prometheus (server mode) holds its own exemplars: the receiver holds the same.
            let local = try Self.exemplars("http://127.0.0.1:\(server.port)", "{job=\"prom-server\"}", start: start, end: cutoff)
            let atReceiver = try Self.exemplars(base, "{job=\"prom-server\"}", start: start, end: cutoff)
            // Prometheus spreads its first scrape over the interval and starts slower than we do.
            check(local.count >= 4, "prometheus scraped exemplars: \(local.count)")
            check(local == atReceiver, "receiver holds what prometheus holds:\n  prometheus \(local)\n  receiver   \(atReceiver)")

            // Our agent: one exemplar per series and scrape, trace ids t<n>/h<n> as served.
            let fromOurs = try Self.exemplars(base, "demo_requests_total{job=\"tributary-agent\"} or demo_latency_seconds_bucket{job=\"tributary-agent\"}", start: start, end: cutoff)
            check(fromOurs.count >= 8, "our agent's exemplars arrived: \(fromOurs.count)\n\(ours.output.suffix(1500))")
            check(Set(fromOurs.map { $0.labels["trace_id"]?.first }) == ["t", "h"], "both series carry exemplars: \(fromOurs)")
            check(fromOurs.allSatisfy { $0.series["job"] == "tributary-agent" && $0.series["instance"] == "127.0.0.1:\(target.port)" }, "\(fromOurs)")

            // Prometheus 2.42 in agent mode sends exemplars too (found here: its WAL logs them).
            let fromPromAgent = try Self.exemplars(base, "{job=\"prom-agent\"}", start: start, end: cutoff)
            check(fromPromAgent.count >= 2, "prometheus agent mode sends exemplars: \(fromPromAgent.count)")

            let m = try httpGet(base + "/metrics")
            check(exposedValue(m, "tributary_remote_write_exemplars_rejected_total", labels: "reason=\"exemplar_out_of_order\"") == 0, "no exemplar refused")
            check(exposedValue(m, "tributary_remote_write_requests_total", labels: "code=\"400\"") == 0, "no request refused")

            // SIGKILL: every exemplar acknowledged before comes back from the WAL.
            let everything = try Self.exemplars(base, "{__name__=~\"demo_.*\"}", start: start, end: cutoff)
            ours.stop()
            promAgent.stop()
            server.stop()
            let port = receiver.port
            receiver.kill()
            receiver = try AgentProcessTests.receiver(port: port, dir: dir)
            let after = try Self.exemplars(base, "{__name__=~\"demo_.*\"}", start: start, end: cutoff)
            check(after == everything, "after kill -9: \(after.count) of \(everything.count) exemplars")
        }
    }
}
