import Foundation
import Testing
import TributaryTestSupport

/// SIGHUP and `POST /-/reload` on the real binaries: the process keeps running, a good file is
/// applied, a bad one is refused with its reason while the running settings stay, and the
/// outcome shows in `…_config_last_reload_successful`.
@Suite(.serialized) struct ReloadProcessTests {
    /// curl's status code for a request (curl, not URLSession: URLSession on Linux waits for a
    /// credential delegate after a 401 instead of returning it).
    static func status(_ url: String, method: String = "GET", token: String? = nil, bodyBytes: Int = 0, dir: String) throws -> Int {
        var arguments = ["-sS", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}", "-X", method]
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        if bodyBytes > 0 {
            try Data(repeating: 0x41, count: bodyBytes).write(to: URL(fileURLWithPath: dir + "/body"))
            arguments += ["-H", "Content-Type: application/x-protobuf", "-H", "Content-Encoding: snappy", "--data-binary", "@" + dir + "/body"]
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = arguments + [url]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Int(String(decoding: data, as: UTF8.self)) ?? -1
    }

    static func receiverConfig(token: String, bodyLimit: Int) -> String {
        "auth:\n  read:\n    bearer_tokens: [\(token)]\n  write:\n    bearer_tokens: [\(token)]\nlimits:\n  max_body_bytes: \(bodyLimit)\n"
    }

    static func hangUp(_ p: PeerProcess) {
        kill(p.process.processIdentifier, SIGHUP)
        Thread.sleep(forTimeInterval: 1)
    }

    @Test func receiverReloadsAuthAndLimits() async throws {
        let check = Checks()
        defer { check.report { Issue.record(Comment(rawValue: $0)) } }
        try await offPool {
            let receiver = try PeerProcess("tributary", readyPath: "/-/ready") { port, dir in
                try Self.receiverConfig(token: "one", bodyLimit: 1000).write(toFile: dir + "/receiver.yml", atomically: true, encoding: .utf8)
                return ["receive", "--config", dir + "/receiver.yml", "--listen", "127.0.0.1:\(port)", "--data-dir", dir + "/data"]
            }
            defer { receiver.stop(); receiver.removeDirectory() }
            let base = "http://127.0.0.1:\(receiver.port)", dir = receiver.dir
            let query = base + "/api/v1/query?query=1"
            check(try Self.status(query, token: "one", dir: dir) == 200)
            check(try Self.status(base + "/api/v1/write", method: "POST", token: "one", bodyBytes: 2000, dir: dir) == 413, "body limit 1000")

            // SIGHUP applies a new token and body limit; the process keeps running.
            try Self.receiverConfig(token: "two", bodyLimit: 1 << 20).write(toFile: dir + "/receiver.yml", atomically: true, encoding: .utf8)
            Self.hangUp(receiver)
            check(receiver.process.isRunning, "SIGHUP must not end the receiver: \(receiver.output.suffix(800))")
            check(try Self.status(query, token: "one", dir: dir) == 401, "the old token is refused after the reload")
            check(try Self.status(query, token: "two", dir: dir) == 200)
            check(
                try Self.status(base + "/api/v1/write", method: "POST", token: "two", bodyBytes: 2000, dir: dir) == 400,
                "2000 bytes are within the new limit (and not snappy, so 400)")
            check(exposedValue(try httpGet(base + "/metrics"), "tributary_config_last_reload_successful") == 1)

            // A file with an error: POST /-/reload answers 500 naming it; nothing changes.
            try "limits:\n  max_body_bytes: lots\n".write(toFile: dir + "/receiver.yml", atomically: true, encoding: .utf8)
            check(try Self.status(base + "/-/reload", method: "POST", token: "two", dir: dir) == 500)
            check(try Self.status(query, token: "two", dir: dir) == 200, "the running settings stay")
            check(exposedValue(try httpGet(base + "/metrics"), "tributary_config_last_reload_successful") == 0)
            check(receiver.output.contains("reload failed") && receiver.output.contains("receiver.yml:2"), "the error names file and line: \(receiver.output.suffix(800))")
            // Reloading is a write-side action: it needs the write token.
            check(try Self.status(base + "/-/reload", method: "POST", dir: dir) == 401)
            try Self.receiverConfig(token: "two", bodyLimit: 1 << 20).write(toFile: dir + "/receiver.yml", atomically: true, encoding: .utf8)
            check(try Self.status(base + "/-/reload", method: "POST", token: "two", dir: dir) == 200)
            check(exposedValue(try httpGet(base + "/metrics"), "tributary_config_last_reload_successful") == 1)
        }
    }

    /// Started without --config, SIGHUP has nothing to reload: it says so and keeps running.
    @Test func receiverWithoutAFileKeepsRunningOnHangUp() async throws {
        let check = Checks()
        defer { check.report { Issue.record(Comment(rawValue: $0)) } }
        try await offPool {
            let receiver = try PeerProcess("tributary", readyPath: "/-/ready") { port, dir in
                ["receive", "--listen", "127.0.0.1:\(port)", "--data-dir", dir + "/data"]
            }
            defer { receiver.stop(); receiver.removeDirectory() }
            Self.hangUp(receiver)
            check(receiver.process.isRunning, "SIGHUP must not end the receiver")
            check(receiver.output.contains("nothing to reload"), receiver.output)
            check(try Self.status("http://127.0.0.1:\(receiver.port)/-/ready", dir: receiver.dir) == 200)
        }
    }

    /// The agent: SIGHUP and POST /-/reload apply a new target list; a bad file is refused.
    @Test func agentReloadsTargets() async throws {
        let check = Checks()
        defer { check.report { Issue.record(Comment(rawValue: $0)) } }
        try await offPool {
            func config(_ port: Int, _ dir: String, targets: [String]) -> String {
                """
                listen: 127.0.0.1:\(port)
                storage: {path: \(dir)/agent}
                global: {scrape_interval: 1s}
                scrape_configs:
                  - job_name: node
                    static_configs: [{targets: [\(targets.map { "\"\($0)\"" }.joined(separator: ", "))]}]
                """
            }
            let agent = try PeerProcess("tributary", readyPath: "/-/ready") { port, dir in
                try config(port, dir, targets: ["127.0.0.1:1"]).write(toFile: dir + "/agent.yml", atomically: true, encoding: .utf8)
                return ["agent", "--config", dir + "/agent.yml"]
            }
            defer { agent.stop(); agent.removeDirectory() }
            let base = "http://127.0.0.1:\(agent.port)", dir = agent.dir
            func targets() throws -> Int {
                let json = try httpJSON(base + "/api/v1/targets")
                return (((json["data"] as? [String: Any])?["activeTargets"] as? [Any]) ?? []).count
            }
            check(try targets() == 1)
            // Prometheus's status endpoints show the file as loaded, the flags and the outcome.
            func status(_ path: String) throws -> [String: Any] { (try httpJSON(base + "/api/v1/status/" + path))["data"] as? [String: Any] ?? [:] }
            let loaded = try status("config"), flags = try status("flags")
            check(loaded["yaml"] as? String == config(agent.port, dir, targets: ["127.0.0.1:1"]), "status/config: \(loaded)")
            check(flags["config.file"] as? String == dir + "/agent.yml" && flags["storage.agent.path"] as? String == dir + "/agent", "status/flags: \(flags)")
            let info = try status("runtimeinfo")
            check(info["reloadConfigSuccess"] as? Bool == true && info["storageRetention"] as? String == "2h", "status/runtimeinfo: \(info)")
            check(try status("buildinfo")["version"] as? String != nil)
            try config(agent.port, dir, targets: ["127.0.0.1:1", "127.0.0.1:2"]).write(toFile: dir + "/agent.yml", atomically: true, encoding: .utf8)
            Self.hangUp(agent)
            check(agent.process.isRunning, "SIGHUP must not end the agent")
            check(try targets() == 2, "SIGHUP applied the new target")
            check(try status("config")["yaml"] as? String == config(agent.port, dir, targets: ["127.0.0.1:1", "127.0.0.1:2"]), "status/config after the reload")
            try config(agent.port, dir, targets: ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]).write(toFile: dir + "/agent.yml", atomically: true, encoding: .utf8)
            check(try Self.status(base + "/-/reload", method: "POST", dir: dir) == 200)
            check(try targets() == 3, "POST /-/reload applied the new target")
            // A changed job setting (here the interval) applies to targets that stay, too.
            try config(agent.port, dir, targets: ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]).replacingOccurrences(of: "scrape_interval: 1s", with: "scrape_interval: 2s")
                .write(toFile: dir + "/agent.yml", atomically: true, encoding: .utf8)
            check(try Self.status(base + "/-/reload", method: "POST", dir: dir) == 200)
            let intervals = (((try httpJSON(base + "/api/v1/targets"))["data"] as? [String: Any])?["activeTargets"] as? [[String: Any]] ?? []).compactMap { $0["scrapeInterval"] as? String }
            check(intervals == ["2s", "2s", "2s"], "a reload applies a job's new interval to its running targets: \(intervals)")
            try "scrape_configs: [{job_name: x, scrape_interval: soon}]\n".write(toFile: dir + "/agent.yml", atomically: true, encoding: .utf8)
            check(try Self.status(base + "/-/reload", method: "POST", dir: dir) == 500)
            check(try targets() == 3, "a bad file changes nothing")
            check(exposedValue(try httpGet(base + "/metrics"), "prometheus_config_last_reload_successful") == 0)
            check(try status("runtimeinfo")["reloadConfigSuccess"] as? Bool == false, "status/runtimeinfo after a failed reload")
            check((try status("config")["yaml"] as? String)?.contains("scrape_interval: 2s") == true, "status/config keeps the configuration in effect")
            check(agent.process.isRunning)
        }
    }

    /// A reloaded `remote_write` list: the agent starts sending to the new receiver and stops
    /// sending to the one removed, without a restart.
    @Test func agentReloadsRemoteWrite() async throws {
        try await AgentProcessTests.onThread { check in
            let first = try AgentProcessTests.receiver()
            defer { first.stop(); first.removeDirectory() }
            let second = try AgentProcessTests.receiver()
            defer { second.stop(); second.removeDirectory() }
            func config(_ port: Int, _ dir: String, to receiver: Int) -> String {
                """
                listen: 127.0.0.1:\(port)
                storage: {path: \(dir)/agent}
                global: {scrape_interval: 500ms}
                scrape_configs: [{job_name: self, static_configs: [{targets: ["127.0.0.1:\(port)"]}]}]
                remote_write:
                  - url: http://127.0.0.1:\(receiver)/api/v1/write
                    queue_config: {batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 500ms}
                """
            }
            let agent = try PeerProcess("tributary", readyPath: "/-/ready") { port, dir in
                try config(port, dir, to: first.port).write(toFile: dir + "/agent.yml", atomically: true, encoding: .utf8)
                return ["agent", "--config", dir + "/agent.yml"]
            }
            defer { agent.stop(); agent.removeDirectory() }
            func stored(_ r: PeerProcess) throws -> Double { exposedValue(try httpGet("http://127.0.0.1:\(r.port)/metrics"), "tributary_remote_write_samples_stored_total") }
            func waitUntil(_ what: String, _ condition: () throws -> Bool) throws {
                for _ in 0..<50 where try !condition() { Thread.sleep(forTimeInterval: 0.2) }
                check(try condition(), what)
            }
            try waitUntil("the first receiver gets samples") { try stored(first) > 0 }
            try config(agent.port, agent.dir, to: second.port).write(toFile: agent.dir + "/agent.yml", atomically: true, encoding: .utf8)
            check(try Self.status("http://127.0.0.1:\(agent.port)/-/reload", method: "POST", dir: agent.dir) == 200)
            try waitUntil("the second receiver gets samples after the reload") { try stored(second) > 0 }
            Thread.sleep(forTimeInterval: 1)  // what was in flight to the first lands
            let before = try stored(first)
            Thread.sleep(forTimeInterval: 2)
            check(try stored(first) == before, "nothing more goes to the removed receiver")
            check(agent.process.isRunning)
        }
    }
}
