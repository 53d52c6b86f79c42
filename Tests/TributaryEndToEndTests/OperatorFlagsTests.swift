import Foundation
import Testing
import TributaryTestSupport

/// Prometheus's flag names beside ours, and `--log.level` / `--log.format logfmt|json`, on the
/// real binary: what an operator moving from Prometheus types works the same.
@Suite(.serialized) struct OperatorFlagsTests {
    @Test func receiverTakesPrometheusFlagNamesAndLogsJSON() async throws {
        try await AgentProcessTests.onThread { check in
            let receiver = try PeerProcess("tributary", readyPath: "/-/ready") { port, dir in
                try "limits:\n  max_body_bytes: 1000000\n".write(toFile: dir + "/receiver.yml", atomically: true, encoding: .utf8)
                return [
                    "receive", "--config.file", dir + "/receiver.yml", "--web.listen-address", "127.0.0.1:\(port)",
                    "--storage.tsdb.path", dir + "/tsdb", "--log.format", "json"
                ]
            }
            defer { receiver.stop(); receiver.removeDirectory() }
            check(FileManager.default.fileExists(atPath: receiver.dir + "/tsdb/wal"), "--storage.tsdb.path holds the WAL")
            let lines = receiver.output.split(separator: "\n").filter { $0.hasPrefix("{") }
            check(!lines.isEmpty, "JSON log lines: \(receiver.output.suffix(500))")
            for line in lines {
                let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
                check(object?["ts"] is String && object?["level"] is String && object?["msg"] is String, "a JSON object with ts, level, msg: \(line)")
            }
            check(lines.contains { $0.contains("\"msg\":\"listening\"") && $0.contains("\"level\":\"info\"") }, "\(lines)")
            // mimalloc serves malloc (it is linked before the C library; Allocator.swift).
            check(lines.contains { $0.contains("\"msg\":\"listening\"") && $0.contains("\"allocator\":\"mimalloc 2.") }, "\(lines)")
            // It keeps freed pages a second before it returns them (Allocator.configure).
            check(lines.contains { $0.contains("\"msg\":\"listening\"") && $0.contains("decommit delay 1000 ms") }, "\(lines)")
            check(!receiver.output.contains("\nts="), "no logfmt lines in JSON mode")
        }
    }

    @Test func agentTakesPrometheusFlagNamesAndLogLevel() async throws {
        try await AgentProcessTests.onThread { check in
            let closed = freePort()
            func config(_ port: Int, _ dir: String) -> String {
                AgentProcessTests.agentConfig(port: port, dir: dir + "/unused", replica: "a", node: closed, writes: ["http://127.0.0.1:\(closed)/api/v1/write"])
            }
            for level in ["info", "warn"] {
                let agent = try PeerProcess("tributary", readyPath: "/-/ready") { port, dir in
                    try config(port, dir).write(toFile: dir + "/agent.yml", atomically: true, encoding: .utf8)
                    return [
                        "agent", "--config.file", dir + "/agent.yml", "--web.listen-address", "127.0.0.1:\(port)",
                        "--storage.agent.path", dir + "/agent-data", "--log.level", level
                    ]
                }
                defer { agent.stop(); agent.removeDirectory() }
                Thread.sleep(forTimeInterval: 1)
                check(FileManager.default.fileExists(atPath: agent.dir + "/agent-data"), "--storage.agent.path overrides storage.path")
                check(!FileManager.default.fileExists(atPath: agent.dir + "/unused"))
                let output = agent.output
                let lines = output.split(separator: "\n").filter { $0.hasPrefix("ts=") }
                check(lines.allSatisfy { $0.contains(" level=") && $0.contains(" msg=") }, "logfmt lines: \(output.suffix(500))")
                if level == "info" {
                    check(lines.contains { $0.contains("level=info") && $0.contains("msg=listening") }, "\(output.suffix(800))")
                    check(lines.contains { $0.contains("msg=listening") && $0.contains("allocator=\"mimalloc 2.") }, "\(output.suffix(800))")
                    check(lines.contains { $0.contains("msg=listening") && $0.contains("decommit delay 1000 ms") }, "\(output.suffix(800))")
                } else {
                    check(!lines.contains { $0.contains("level=info") || $0.contains("level=debug") }, "warn and above only: \(output.suffix(800))")
                }
            }
        }
    }

    /// The agent's server has the receiver's guard: `--web.read-header-timeout` closes a silent
    /// connection, `--web.max-connections` the one over the cap.
    @Test func agentServerClosesSilentConnectionsAndHoldsItsCap() async throws {
        try await AgentProcessTests.onThread { check in
            let closed = freePort()
            let agent = try PeerProcess("tributary", readyPath: "/-/ready") { port, dir in
                try AgentProcessTests.agentConfig(port: port, dir: dir, replica: "a", node: closed, writes: ["http://127.0.0.1:\(closed)/api/v1/write"])
                    .write(toFile: dir + "/agent.yml", atomically: true, encoding: .utf8)
                return ["agent", "--config.file", dir + "/agent.yml", "--web.read-header-timeout", "1s", "--web.max-connections", "3"]
            }
            defer { agent.stop(); agent.removeDirectory() }
            let silent = try RawConnection(port: agent.port)
            let start = Date()
            while !silent.isClosedByPeer, Date().timeIntervalSince(start) < 5 { Thread.sleep(forTimeInterval: 0.05) }
            let waited = Date().timeIntervalSince(start)
            check(waited > 0.7 && waited < 2.5, "a silent connection is closed after the 1 s head deadline: \(waited) s")
            // Four at once (the readiness probe's kept-alive connection may hold a place too).
            let four = try (0..<4).map { _ in try RawConnection(port: agent.port) }
            Thread.sleep(forTimeInterval: 0.3)
            let open = four.filter { !$0.isClosedByPeer }.count
            check(open >= 2 && open <= 3, "at most 3 open at once, the rest closed when accepted: \(open) of 4 open")
        }
    }

    /// Self-monitoring under the names Prometheus users already chart: process metrics and
    /// build info on both binaries; the remote-write lag pair and the shard gauges on the agent.
    @Test func selfMetricsUnderPrometheusNames() async throws {
        try await AgentProcessTests.onThread { check in
            let node = try AgentProcessTests.node()
            defer { node.stop(); node.removeDirectory() }
            let receiver = try AgentProcessTests.receiver()
            defer { receiver.stop(); receiver.removeDirectory() }
            let agent = try AgentProcessTests.agent { port, dir in
                AgentProcessTests.agentConfig(port: port, dir: dir, replica: "a", node: node.port, writes: ["http://127.0.0.1:\(receiver.port)/api/v1/write"])
            }
            defer { agent.stop(); agent.removeDirectory() }
            Thread.sleep(forTimeInterval: 6)  // scrapes, sends, and the 2 s upkeep tick
            let now = Date().timeIntervalSince1970
            for (name, process) in [("receiver", receiver), ("agent", agent)] {
                let text = try httpGet("http://127.0.0.1:\(process.port)/metrics")
                check(exposedValue(text, "process_resident_memory_bytes") > 1_000_000, "\(name): RSS")
                check(abs(exposedValue(text, "process_start_time_seconds") - now) < 120, "\(name): start time near now")
                check(exposedValue(text, "process_cpu_seconds_total") > 0, "\(name): CPU seconds")
                check(exposedValue(text, "process_open_fds") > 3 && exposedValue(text, "process_max_fds") >= exposedValue(text, "process_open_fds"), "\(name): fds")
                check(text.contains("tributary_build_info{version=\""), "\(name): build info")
            }
            let text = try httpGet("http://127.0.0.1:\(agent.port)/metrics")
            let highest = exposedValue(text, "prometheus_remote_storage_highest_timestamp_in_seconds")
            let sent = exposedValue(text, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds")
            check(abs(highest - now) < 10, "newest sample logged is recent: \(highest) vs \(now)")
            check(sent > 0 && highest - sent < 5, "the queue keeps up: lag \(highest - sent) s")
            check(exposedValue(text, "prometheus_remote_storage_shards_min") == 1, "shards_min")
            check(exposedValue(text, "prometheus_remote_storage_shards_max") >= 1, "shards_max")
            check(exposedValue(text, "prometheus_remote_storage_shards_desired") >= 1, "shards_desired")
        }
    }

    @Test func badLogFlagsAreRefusedByName() throws {
        for (flag, value) in [("--log.format", "xml"), ("--log.level", "loud")] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: PeerProcess.ourBinary("tributary"))
            process.arguments = ["receive", flag, value]
            let err = Pipe()
            process.standardError = err
            process.standardOutput = Pipe()
            try process.run()
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus != 0)
            #expect(text.contains("\(flag) \(value)"), "\(text)")
        }
    }
}
