import Foundation
import Synchronization
import Testing
import TributaryTestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Real senders from Debian's packages: prometheus 2.42 in agent mode (replica a) and vmagent
/// (replica b) scrape a real prometheus-node-exporter once a second and remote-write to our
/// receiver. What the senders report sending arrives; the HA pair is stored once.
@Suite(.serialized) struct RealSendersTests {
    @Test func prometheusAgentAndVmagentWriteToTheReceiver() async throws {
        // Peers start and are read with blocking calls: keep them off the cooperative pool.
        let receiver = try await offPool {
            try PeerProcess("tributary", readyPath: "/-/ready") { port, dir in
                ["receive", "--listen", "127.0.0.1:\(port)", "--data-dir", dir + "/receiver", "--dedup-window", "1s"]
            }
        }
        defer { receiver.stop(); receiver.removeDirectory() }
        let base = "http://127.0.0.1:\(receiver.port)"
        @Sendable func metric(_ name: String) async throws -> Double {
            try await offPool { exposedValue(try httpGet(base + "/metrics"), name) }
        }
        @Sendable func queryScalar(_ encodedQuery: String) async throws -> Double {
            try await offPool {
                let json = try httpJSON(base + "/api/v1/query?query=" + encodedQuery)
                let value = (((json["data"] as? [String: Any])?["result"] as? [[String: Any]])?.first?["value"] as? [Any])?.last as? String
                return value.flatMap(Double.init) ?? .nan
            }
        }
        let node = try await offPool { try PeerProcess("prometheus-node-exporter") { port, _ in ["--web.listen-address=127.0.0.1:\(port)"] } }
        defer { node.stop(); node.removeDirectory() }
        let scrape = """
            global:
              scrape_interval: 1s
              external_labels: {replica: a}
            scrape_configs:
              - job_name: node
                static_configs: [{targets: ["127.0.0.1:\(node.port)"], labels: {group: lab-1}}]
            """
        let agent = try await offPool {
            try PeerProcess("prometheus") { port, dir in
                try? (scrape + "\nremote_write:\n  - url: \(base)/api/v1/write\n    queue_config: {batch_send_deadline: 1s}\n")
                    .write(toFile: dir + "/p.yml", atomically: true, encoding: .utf8)
                return [
                    "--enable-feature=agent", "--config.file=\(dir)/p.yml", "--storage.agent.path=\(dir)/data",
                    "--web.listen-address=127.0.0.1:\(port)"
                ]
            }
        }
        defer { agent.stop(); agent.removeDirectory() }
        let vmagent = try await offPool {
            try PeerProcess("vmagent") { port, dir in
                try? scrape.replacingOccurrences(of: "  external_labels: {replica: a}\n", with: "")
                    .write(toFile: dir + "/vm.yml", atomically: true, encoding: .utf8)
                return [
                    "-promscrape.config=\(dir)/vm.yml", "-remoteWrite.url=\(base)/api/v1/write", "-remoteWrite.label=replica=b",
                    "-httpListenAddr=127.0.0.1:\(port)", "-remoteWrite.tmpDataPath=\(dir)/queue", "-remoteWrite.flushInterval=1s"
                ]
            }
        }
        defer { vmagent.stop(); vmagent.removeDirectory() }
        try await Task.sleep(for: .seconds(30))

        // Senders count a sample when they send it, the receiver when it arrives, so at any
        // moment received ≤ sent. Read what the senders sent (sentBefore), wait until that much
        // has arrived, then read the senders again (sentAfter): sentBefore ≤ received ≤ sentAfter.
        let agentPort = agent.port, vmPort = vmagent.port
        @Sendable func sent() throws -> (total: Double, agentSeries: Double, failed: Double) {
            let a = try httpGet("http://127.0.0.1:\(agentPort)/metrics")
            let v = try httpGet("http://127.0.0.1:\(vmPort)/metrics")
            return (
                exposedValue(a, "prometheus_remote_storage_samples_total") + exposedValue(v, "vmagent_remotewrite_block_size_rows_sum"),
                exposedValue(a, "prometheus_agent_active_series"),
                exposedValue(a, "prometheus_remote_storage_samples_failed_total") + exposedValue(v, "vmagent_remotewrite_packets_dropped_total")
            )
        }
        let before = try await offPool { try sent() }
        var received = 0.0
        for _ in 0..<50 {
            received = try await metric("tributary_remote_write_samples_received_total")
            if received >= before.total { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let after = try await offPool { try sent() }
        // The receiver's own accounting, read in one scrape once the senders are stopped (a
        // request in flight would count as received before it counts as stored).
        agent.stop()
        vmagent.stop()
        try await Task.sleep(for: .seconds(1))
        let final = try await offPool { try httpGet(base + "/metrics") }
        let total = exposedValue(final, "tributary_remote_write_samples_received_total")
        let stored = exposedValue(final, "tributary_remote_write_samples_stored_total")
        let deduplicated = exposedValue(final, "tributary_remote_write_samples_deduplicated_total")
        let rejected = exposedValue(final, "tributary_remote_write_samples_rejected_total")
        let repeated = exposedValue(final, "tributary_remote_write_samples_repeated_total")
        print("real senders, 30 s: sent \(before.total)…\(after.total) samples (agent: \(before.agentSeries) series); receiver received \(received) then \(total) in all, stored \(stored), deduplicated \(deduplicated), repeated \(repeated), rejected \(rejected)")
        #expect(before.total > 20_000)
        #expect(before.failed == 0 && after.failed == 0)
        #expect(before.total <= received && received <= after.total, "what the senders report sending is what arrived")
        #expect(rejected == 0)
        #expect(stored + deduplicated + repeated == total, "every received sample is stored once, dropped as the other replica's, or an exact repeat of a retry")
        #expect(deduplicated > 0.3 * received, "the HA pair is stored about once")
        // The series of the scrape, without the replica label, with the target labels.
        let (metric, value, text) = try await offPool {
            let json = try httpJSON(base + "/api/v1/query?query=up%7Bjob%3D%22node%22%7D")
            let result = (json["data"] as? [String: Any])?["result"] as? [[String: Any]]
            return (result?.first?["metric"] as? [String: String], (result?.first?["value"] as? [Any])?.last as? String, "\(json)")
        }
        #expect(metric == ["__name__": "up", "group": "lab-1", "instance": "127.0.0.1:\(node.port)", "job": "node"], "\(text)")
        #expect(value == "1")
        // The series held are exactly the union of what the two senders scrape: the agent's
        // active series (node_exporter's plus five synthetic scrape series) and vmagent's, which
        // are the same plus its own scrape_timeout_seconds. The copies were merged, not doubled.
        let count = try await queryScalar("count(%7Bjob%3D%22node%22%7D)")
        let vmagentOnly = try await queryScalar("count(scrape_timeout_seconds%7Bjob%3D%22node%22%7D)")
        let scraped = try await queryScalar("max(scrape_samples_scraped%7Bjob%3D%22node%22%7D)")
        #expect(vmagentOnly == 1)
        #expect(count == before.agentSeries + vmagentOnly, "series held = the agent's active series + vmagent's scrape_timeout_seconds")
        #expect(count == scraped + 6, "series held = node_exporter's series + up, the four scrape_* series and scrape_timeout_seconds")
    }
}
