import Foundation
import Testing
import TributaryTestSupport

/// `configs/systemd/`: the units pass `systemd-analyze verify` without a word, and their
/// `ExecStart` lines start the real binary (paths moved to a temporary directory).
@Suite(.serialized) struct DeploymentFilesTests {
    static let units = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../configs/systemd").standardized.path
    static let configs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../configs").standardized.path

    static func run(_ tool: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        guard FileManager.default.isExecutableFile(atPath: tool) else { throw TestFailure("\(tool) is missing: run ./scripts/setup") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func unit(_ name: String) throws -> String {
        try String(contentsOfFile: units + "/" + name, encoding: .utf8)
    }

    @Test(arguments: ["tributary-receiver.service", "tributary-agent.service"])
    func unitVerifiesCleanly(_ name: String) throws {
        let dir = NSTemporaryDirectory() + "tributary-units-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // verify checks that ExecStart's binary exists: point it at the one we built.
        let text = try Self.unit(name).replacingOccurrences(of: "/usr/local/bin/tributary", with: PeerProcess.ourBinary("tributary"))
        try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
        let (status, output) = try Self.run("/usr/bin/systemd-analyze", ["verify", dir + "/" + name])
        #expect(status == 0)
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "systemd-analyze verify complains: \(output)")
        for directive in ["NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "CapabilityBoundingSet=", "SystemCallFilter=@system-service", "ExecReload=/bin/kill -HUP $MAINPID"] {
            #expect(text.contains(directive), "\(name) lacks \(directive)")
        }
    }

    /// The ExecStart arguments as systemd would pass them (no shell: split on spaces), with
    /// /etc/tributary and /var/lib moved into `dir` and the port replaced.
    static func execStart(_ unit: String, dir: String, port: Int) throws -> [String] {
        guard let line = unit.split(separator: "\n").first(where: { $0.hasPrefix("ExecStart=") }) else { throw TestFailure("no ExecStart") }
        return line.dropFirst("ExecStart=".count).split(separator: " ").dropFirst().map {
            String($0).replacingOccurrences(of: "/etc/tributary", with: dir + "/etc").replacingOccurrences(of: "/var/lib", with: dir + "/var")
                .replacingOccurrences(of: "0.0.0.0:9201", with: "127.0.0.1:\(port)").replacingOccurrences(of: "0.0.0.0:9202", with: "127.0.0.1:\(port)")
        }
    }

    @Test func execStartLinesStartTheBinaries() async throws {
        try await AgentProcessTests.onThread { check in
            for (name, config) in [("tributary-receiver.service", "receiver.yml"), ("tributary-agent.service", "agent.yml")] {
                let unit = try Self.unit(name)
                let process = try PeerProcess("tributary", readyPath: "/-/ready") { port, dir in
                    try FileManager.default.createDirectory(atPath: dir + "/etc", withIntermediateDirectories: true)
                    try FileManager.default.copyItem(atPath: Self.configs + "/" + config, toPath: dir + "/etc/" + config)
                    return try Self.execStart(unit, dir: dir, port: port)
                }
                defer { process.stop(); process.removeDirectory() }
                check(process.process.isRunning, "\(name): \(process.output.suffix(500))")
                let state = name.contains("receiver") ? "/var/tributary-receiver/wal" : "/var/tributary-agent"
                check(FileManager.default.fileExists(atPath: process.dir + state), "\(name) keeps its state in its StateDirectory")
                check(process.output.contains("level=info"), "logfmt lines: \(process.output.suffix(300))")
            }
        }
    }
}
