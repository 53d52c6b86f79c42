import Foundation
import Testing
import TributaryTestSupport

/// The whole tree under failures, on the real binaries: two groups (HA pairs of agents,
/// scraping a real node_exporter each, every second) write to a site receiver that forwards to
/// a central one. One agent of each pair is SIGKILLed and restarted; the site receiver is
/// stopped for 15 s; the central receiver is SIGKILLed and restarted. Afterwards, at the
/// central receiver, for the node_exporter series of both groups: no timestamp twice, no gap
/// longer than two scrape intervals, counters that never go down (no false resets for
/// `rate()`), and every sample the site receiver stored (acknowledged to an agent) is there.
@Suite(.serialized) struct ChaosTests {
    static func receiver(port: Int, dir: String, config: String?) throws -> PeerProcess {
        try PeerProcess("tributary", port: port, dir: dir, readyPath: "/-/ready") { port, dir in
            var arguments = ["receive", "--listen", "127.0.0.1:\(port)", "--data-dir", dir + "/data", "--dedup-window", "1s"]
            if let config {
                try config.write(toFile: dir + "/receiver.yml", atomically: true, encoding: .utf8)
                arguments += ["--config", dir + "/receiver.yml"]
            }
            return arguments
        }
    }

    static func agent(port: Int, dir: String, group: String, replica: String, node: Int, site: Int) throws -> PeerProcess {
        try PeerProcess("tributary", port: port, dir: dir, readyPath: "/-/ready") { port, dir in
            let yml = """
                listen: 127.0.0.1:\(port)
                storage: {path: \(dir)/agent}
                global: {scrape_interval: 1s, scrape_timeout: 900ms, external_labels: {replica: \(replica)}}
                scrape_configs:
                  - job_name: node
                    static_configs: [{targets: ["127.0.0.1:\(node)"], labels: {group: \(group)}}]
                    metric_relabel_configs: [{source_labels: [__name__], regex: "node_(cpu_seconds_total|load1|memory_MemAvailable_bytes|network_receive_bytes_total)", action: keep}]
                remote_write:
                  - url: http://127.0.0.1:\(site)/api/v1/write
                    queue_config: {batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 1s}
                """
            try yml.write(toFile: dir + "/agent.yml", atomically: true, encoding: .utf8)
            return ["agent", "--config", dir + "/agent.yml"]
        }
    }

    @Test func theTreeLosesNothingThroughKillsAndStops() async throws {
        try await AgentProcessTests.onThread { check in
            let root = NSTemporaryDirectory() + "tributary-chaos-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: root) }
            let centralPort = freePort(), sitePort = freePort()
            let siteConfig = """
                external_labels: {site: site-1}
                remote_write:
                  - url: http://127.0.0.1:\(centralPort)/api/v1/write
                    name: central
                    queue_config: {batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 1s}
                """
            var central = try Self.receiver(port: centralPort, dir: root + "/central", config: nil)
            var site = try Self.receiver(port: sitePort, dir: root + "/site", config: siteConfig)
            var nodes: [String: PeerProcess] = [:]
            var agents: [String: (port: Int, process: PeerProcess)] = [:]
            defer {
                for (_, a) in agents { a.process.stop() }
                for (_, n) in nodes { n.stop(); n.removeDirectory() }
                site.stop()
                central.stop()
            }
            for group in ["lab-1", "lab-2"] {
                nodes[group] = try AgentProcessTests.node()
                for replica in ["a", "b"] {
                    let port = freePort()
                    agents["\(group)-\(replica)"] = (
                        port, try Self.agent(port: port, dir: "\(root)/\(group)-\(replica)", group: group, replica: replica, node: nodes[group]?.port ?? 0, site: sitePort)
                    )
                }
            }
            let started = Date().timeIntervalSince1970
            Thread.sleep(forTimeInterval: 15)
            // One agent of each pair dies and comes back.
            for name in ["lab-1-a", "lab-2-b"] { agents[name]?.process.kill() }
            Thread.sleep(forTimeInterval: 5)
            for name in ["lab-1-a", "lab-2-b"] {
                guard let (port, _) = agents[name] else { continue }
                let parts = name.split(separator: "-")
                agents[name] = (
                    port, try Self.agent(port: port, dir: "\(root)/\(name)", group: "\(parts[0])-\(parts[1])", replica: String(parts[2]), node: nodes["\(parts[0])-\(parts[1])"]?.port ?? 0, site: sitePort)
                )
            }
            Thread.sleep(forTimeInterval: 10)
            // The site receiver is away for 15 s: both pairs buffer and retry.
            site.stop()
            Thread.sleep(forTimeInterval: 15)
            site = try Self.receiver(port: sitePort, dir: root + "/site", config: siteConfig)
            Thread.sleep(forTimeInterval: 10)
            // The central receiver crashes: the site's forwarding queue holds on.
            central.kill()
            Thread.sleep(forTimeInterval: 5)
            central = try Self.receiver(port: centralPort, dir: root + "/central", config: nil)
            Thread.sleep(forTimeInterval: 15)
            // Scraping ends here (the agents stop one after another, each flushing its queue).
            let stopped = Date().timeIntervalSince1970
            for (_, a) in agents { a.process.stop() }
            // Let the site's queue drain to central.
            let selector = "{job=\"node\",__name__=~\"node_cpu_seconds_total|node_load1\"}"
            var atSite: [String: [(Int64, Double)]] = [:]
            var atCentral: [String: [(Int64, Double)]] = [:]
            func key(_ central: String) -> String {
                central.replacingOccurrences(of: ",site=\"site-1\"", with: "").replacingOccurrences(of: "site=\"site-1\",", with: "")
            }
            for _ in 0..<60 {
                // Everything since the start, however long the drain takes.
                let window = "[\(Int(Date().timeIntervalSince1970 - started) + 10)s]"
                atSite = try rawSamples("http://127.0.0.1:\(sitePort)", selector + window)
                atCentral = Dictionary(try rawSamples("http://127.0.0.1:\(centralPort)", selector + window).map { (key($0.key), $0.value) }, uniquingKeysWith: { a, _ in a })
                let missing = atSite.reduce(0) { n, s in n + max(0, s.value.count - (atCentral[s.key]?.count ?? 0)) }
                if missing == 0 { break }
                Thread.sleep(forTimeInterval: 1)
            }
            check(atSite.count >= 10, "the site holds the node series of both groups: \(atSite.count)")
            check(Set(atSite.keys.compactMap { $0.contains("group=\"lab-1\"") ? "lab-1" : $0.contains("group=\"lab-2\"") ? "lab-2" : nil }) == ["lab-1", "lab-2"])
            // Every sample the site stored arrived at central, once.
            var lost = 0
            for (series, samples) in atSite {
                let have = Set((atCentral[series] ?? []).map(\.0))
                lost += samples.filter { !have.contains($0.0) }.count
            }
            check(lost == 0, "\(lost) samples the site stored are missing at central")
            let from = Int64((started + 5) * 1000), to = Int64((stopped - 3) * 1000)
            var doubled = 0, gaps: [String] = [], resets = 0
            for (series, samples) in atCentral {
                let ts = samples.map(\.0)
                doubled += zip(ts, ts.dropFirst()).filter { $0 >= $1 }.count
                let inside = samples.filter { $0.0 >= from && $0.0 <= to }
                for (a, b) in zip(inside, inside.dropFirst()) where b.0 - a.0 > 2_000 { gaps.append("\(series): \(b.0 - a.0) ms at \(a.0)") }
                if series.contains("node_cpu_seconds_total") { resets += zip(samples, samples.dropFirst()).filter { $1.1 < $0.1 }.count }
                if let first = inside.first, first.0 - from > 2_000 { gaps.append("\(series): starts \(first.0 - from) ms late") }
                if let last = inside.last, to - last.0 > 2_000 { gaps.append("\(series): ends \(to - last.0) ms early") }
            }
            check(doubled == 0, "\(doubled) timestamps twice at central")
            check(gaps.isEmpty, "\(gaps.count) gaps longer than two scrape intervals, e.g. \(gaps.prefix(5))")
            check(resets == 0, "\(resets) counter decreases (false resets) at central")
        }
    }
}
