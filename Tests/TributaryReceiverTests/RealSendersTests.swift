import Foundation
import Synchronization
import Testing
import TributaryModel
import TributaryReceiver
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Real senders from Debian's packages: prometheus 2.42 in agent mode (replica a) and vmagent
/// (replica b) scrape a real prometheus-node-exporter once a second and remote-write to our
/// receiver. What the senders report sending arrives; the HA pair is stored once.
@Suite(.serialized) struct RealSendersTests {
    @Test func prometheusAgentAndVmagentWriteToTheReceiver() async throws {
        let server = try await TestServer { $0.dedupWindow = 1000 }
        defer { server.removeData() }
        // Peers start and are read with blocking calls: keep them off the cooperative pool,
        // which the in-process receiver's handlers need.
        let node = try await offPool { Result { try Peer("prometheus-node-exporter") { port, _ in ["--web.listen-address=127.0.0.1:\(port)"] } } }.get()
        defer { node.stop() }
        let scrape = """
        global:
          scrape_interval: 1s
          external_labels: {replica: a}
        scrape_configs:
          - job_name: node
            static_configs: [{targets: ["127.0.0.1:\(node.port)"], labels: {group: lab-1}}]
        """
        let base = server.base
        let agent = try await offPool { Result { try Peer("prometheus") { port, dir in
            try? (scrape + "\nremote_write:\n  - url: \(base)/api/v1/write\n    queue_config: {batch_send_deadline: 1s}\n")
                .write(toFile: dir + "/p.yml", atomically: true, encoding: .utf8)
            return ["--enable-feature=agent", "--config.file=\(dir)/p.yml", "--storage.agent.path=\(dir)/data",
                    "--web.listen-address=127.0.0.1:\(port)"]
        } } }.get()
        defer { agent.stop() }
        let vmagent = try await offPool { Result { try Peer("vmagent") { port, dir in
            try? scrape.replacingOccurrences(of: "  external_labels: {replica: a}\n", with: "")
                .write(toFile: dir + "/vm.yml", atomically: true, encoding: .utf8)
            return ["-promscrape.config=\(dir)/vm.yml", "-remoteWrite.url=\(base)/api/v1/write", "-remoteWrite.label=replica=b",
                    "-httpListenAddr=127.0.0.1:\(port)", "-remoteWrite.tmpDataPath=\(dir)/queue", "-remoteWrite.flushInterval=1s"]
        } } }.get()
        defer { vmagent.stop() }
        try await Task.sleep(for: .seconds(8))

        let agentPort = agent.port, vmPort = vmagent.port
        let agentMetrics = try await offPool { Result { try Peer.text("http://127.0.0.1:\(agentPort)/metrics") } }.get()
        let vmMetrics = try await offPool { Result { try Peer.text("http://127.0.0.1:\(vmPort)/metrics") } }.get()
        let agentSent = Peer.value(agentMetrics, "prometheus_remote_storage_samples_total")
        let agentFailed = Peer.value(agentMetrics, "prometheus_remote_storage_samples_failed_total")
        let agentSeries = Peer.value(agentMetrics, "prometheus_agent_active_series")
        let vmSent = Peer.value(vmMetrics, "vmagent_remotewrite_block_size_rows_sum")
        let received = server.receiver.stats.samplesReceived.load(ordering: .relaxed)
        let stored = server.receiver.stats.samplesStored.load(ordering: .relaxed)
        let deduplicated = server.receiver.stats.samplesDeduplicated.load(ordering: .relaxed)
        print("real senders: agent sent \(agentSent) samples (\(agentSeries) series), vmagent sent \(vmSent); receiver received \(received), stored \(stored), deduplicated \(deduplicated), rejected \(server.receiver.stats.samplesRejected.load(ordering: .relaxed))")
        #expect(agentSent > 1000 && vmSent > 1000)
        #expect(agentFailed == 0)
        // Everything the senders report having sent has arrived (they may send more meanwhile).
        #expect(Double(received) >= agentSent + vmSent)
        #expect(server.receiver.stats.samplesRejected.load(ordering: .relaxed) == 0)
        #expect(deduplicated > 0)
        // The series of the scrape, without the replica label, with the target labels.
        let (_, json, text) = try await server.get("/api/v1/query?query=up%7Bjob%3D%22node%22%7D")
        let result = (json["data"] as? [String: Any])?["result"] as? [[String: Any]]
        #expect((result?.first?["metric"] as? [String: String]) == ["__name__": "up", "group": "lab-1", "instance": "127.0.0.1:\(node.port)", "job": "node"], "\(text)")
        #expect((result?.first?["value"] as? [Any])?.last as? String == "1")
        let (_, countJSON, _) = try await server.get("/api/v1/query?query=count(%7Bjob%3D%22node%22%7D)")
        let count = ((((countJSON["data"] as? [String: Any])?["result"] as? [[String: Any]])?.first?["value"] as? [Any])?.last as? String).flatMap(Double.init) ?? 0
        #expect(count >= agentSeries, "every series the agent scrapes is stored once")
        await server.stop()
    }
}

/// A peer process from Debian's packages on a free loopback port.
final class Peer: @unchecked Sendable {
    let process = Process()
    let port: Int
    let dir: String

    init(_ binary: String, arguments: (Int, String) -> [String]) throws {
        let path = "/usr/bin/" + binary
        guard FileManager.default.isExecutableFile(atPath: path) else { throw TestError("\(binary) is not installed: run ./scripts/setup") }
        port = Int.random(in: 20_000..<60_000)
        dir = NSTemporaryDirectory() + "tributary-peer-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments(port, dir)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 {
            if (try? Self.text("http://127.0.0.1:\(port)/metrics")) != nil { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        stop()
        throw TestError("\(binary) did not start on port \(port)")
    }

    /// SIGTERM, then SIGKILL after two seconds (vmagent may spend long flushing its queue).
    func stop() {
        if process.isRunning {
            process.terminate()
            for _ in 0..<20 where process.isRunning { Thread.sleep(forTimeInterval: 0.1) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    static func text(_ url: String) throws -> String {
        guard let u = URL(string: url) else { throw TestError("bad URL") }
        return try String(contentsOf: u, encoding: .utf8)
    }

    /// Sum of a metric's samples in exposition text.
    static func value(_ text: String, _ name: String) -> Double {
        text.split(separator: "\n").filter { $0.hasPrefix(name + "{") || $0.hasPrefix(name + " ") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
    }
}
