import Foundation
import Testing
import TributaryTestSupport

/// One process per data directory, on the real binary: a second receiver or agent started on a
/// directory in use exits naming the holder, and the first keeps serving; a clean stop
/// removes the lock file; a killed process leaves it behind without locking anyone out, and
/// the next start says so.
@Suite(.serialized) struct DataDirectoryLockTests {
    /// Runs our binary until it exits (at most 20 s); its status and output.
    static func runToEnd(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: PeerProcess.ourBinary("tributary"))
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let start = Date()
        while process.isRunning, Date().timeIntervalSince(start) < 20 { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    @Test func aSecondReceiverIsRefusedAndTheLockOutlivesOnlyACrash() async throws {
        try await AgentProcessTests.onThread { check in
            let data = NSTemporaryDirectory() + "tributary-locked-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: data) }
            func receiver() throws -> PeerProcess {
                try PeerProcess("tributary", readyPath: "/-/ready") { port, _ in
                    ["receive", "--web.listen-address", "127.0.0.1:\(port)", "--storage.tsdb.path", data]
                }
            }
            let first = try receiver()
            defer { first.stop(); first.removeDirectory() }
            let second = try Self.runToEnd(["receive", "--web.listen-address", "127.0.0.1:\(freePort())", "--storage.tsdb.path", data])
            check(second.status != 0, "the second receiver exits: \(second.output.suffix(800))")
            check(second.output.contains("lock DB directory \(data)/lock"), "names the lock file: \(second.output.suffix(800))")
            check(second.output.contains("process \(first.process.processIdentifier)"), "names the holder: \(second.output.suffix(800))")
            check((try? httpGet("http://127.0.0.1:\(first.port)/-/ready")) != nil, "the first still serves")
            first.stop()
            check(!FileManager.default.fileExists(atPath: data + "/lock"), "a clean stop removes the lock file")

            let third = try receiver()
            defer { third.stop(); third.removeDirectory() }
            check(!third.output.contains("did not stop cleanly"), "\(third.output.suffix(800))")
            third.kill()
            check(FileManager.default.fileExists(atPath: data + "/lock"), "a killed receiver leaves its lock file")
            let fourth = try receiver()
            defer { fourth.stop(); fourth.removeDirectory() }
            check(fourth.output.contains("did not stop cleanly"), "the restart notices: \(fourth.output.suffix(800))")
        }
    }

    @Test func aSecondAgentIsRefused() async throws {
        try await AgentProcessTests.onThread { check in
            let closed = freePort()
            let data = NSTemporaryDirectory() + "tributary-locked-agent-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: data) }
            func config(_ port: Int, _ dir: String) throws -> String {
                let path = dir + "/agent.yml"
                try AgentProcessTests.agentConfig(port: port, dir: dir, replica: "a", node: closed, writes: ["http://127.0.0.1:\(closed)/api/v1/write"])
                    .write(toFile: path, atomically: true, encoding: .utf8)
                return path
            }
            let first = try PeerProcess("tributary", readyPath: "/-/ready") { port, dir in
                ["agent", "--config.file", try config(port, dir), "--storage.agent.path", data]
            }
            defer { first.stop(); first.removeDirectory() }
            let scratch = NSTemporaryDirectory() + "tributary-agent-config-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            let second = try Self.runToEnd(["agent", "--config.file", try config(freePort(), scratch), "--storage.agent.path", data])
            check(second.status != 0, "the second agent exits: \(second.output.suffix(800))")
            check(second.output.contains("lock DB directory \(data)/lock"), "\(second.output.suffix(800))")
            check(second.output.contains("process \(first.process.processIdentifier)"), "\(second.output.suffix(800))")
            check((try? httpGet("http://127.0.0.1:\(first.port)/-/ready")) != nil, "the first still serves")
            first.stop()
            check(!FileManager.default.fileExists(atPath: data + "/lock"), "a clean stop removes the lock file")
        }
    }
    /// Prometheus's escape hatches for filesystems without `flock`: with them the directory is
    /// opened whoever holds its lock, and no lock file is taken.
    @Test func theNoLockfileFlagsSkipTheLock() async throws {
        try await AgentProcessTests.onThread { check in
            let data = NSTemporaryDirectory() + "tributary-unlocked-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: data) }
            try FileManager.default.createDirectory(atPath: data + "/tsdb", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: data + "/agent", withIntermediateDirectories: true)
            // This test process holds both locks, as another receiver or agent would.
            var held: [Int32] = []
            defer { for fd in held { close(fd) } }
            for dir in ["tsdb", "agent"] {
                let fd = open(data + "/\(dir)/lock", O_RDWR | O_CREAT, 0o644)
                check(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0, "the test holds \(dir)/lock")
                held.append(fd)
            }
            let refused = try Self.runToEnd(["receive", "--web.listen-address", "127.0.0.1:\(freePort())", "--storage.tsdb.path", data + "/tsdb"])
            check(refused.status != 0 && refused.output.contains("lock DB directory"), "without the flag: refused: \(refused.output.suffix(500))")
            let receiver = try PeerProcess("tributary", readyPath: "/-/ready") { port, _ in
                ["receive", "--web.listen-address", "127.0.0.1:\(port)", "--storage.tsdb.path", data + "/tsdb", "--storage.tsdb.no-lockfile"]
            }
            defer { receiver.stop(); receiver.removeDirectory() }
            let flags = try httpJSON("http://127.0.0.1:\(receiver.port)/api/v1/status/flags")["data"] as? [String: String]
            check(flags?["storage.tsdb.no-lockfile"] == "true", "status/flags: \(flags ?? [:])")
            let closed = freePort()
            let agent = try PeerProcess("tributary", readyPath: "/-/ready") { port, dir in
                try AgentProcessTests.agentConfig(port: port, dir: dir, replica: "a", node: closed, writes: ["http://127.0.0.1:\(closed)/api/v1/write"])
                    .write(toFile: dir + "/agent.yml", atomically: true, encoding: .utf8)
                return ["agent", "--config.file", dir + "/agent.yml", "--storage.agent.path", data + "/agent", "--storage.agent.no-lockfile"]
            }
            defer { agent.stop(); agent.removeDirectory() }
            check(FileManager.default.fileExists(atPath: data + "/agent/wal"), "the agent opened its WAL")
        }
    }
}
