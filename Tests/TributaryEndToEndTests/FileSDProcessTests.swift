import Foundation
import Testing
import TributaryTestSupport

/// `file_sd_configs` on the real agent: targets listed in a JSON file are scraped (a real
/// prometheus-node-exporter), and editing the file adds and removes targets without a reload.
@Suite(.serialized) struct FileSDProcessTests {
    @Test func editingTheFileChangesWhatIsScraped() async throws {
        try await AgentProcessTests.onThread { check in
            let node = try AgentProcessTests.node()
            defer { node.stop(); node.removeDirectory() }
            let agent = try PeerProcess("tributary", readyPath: "/-/ready") { port, dir in
                try #"[{"targets": ["127.0.0.1:\#(node.port)"], "labels": {"group": "lab-7"}}]"#.write(toFile: dir + "/nodes.json", atomically: true, encoding: .utf8)
                let yml = """
                    global: {scrape_interval: 500ms, external_labels: {replica: a}}
                    scrape_configs:
                      - job_name: node
                        file_sd_configs: [{files: [nodes.json]}]
                    """
                try yml.write(toFile: dir + "/agent.yml", atomically: true, encoding: .utf8)
                return ["agent", "--config.file", dir + "/agent.yml", "--web.listen-address", "127.0.0.1:\(port)", "--storage.agent.path", dir + "/data"]
            }
            defer { agent.stop(); agent.removeDirectory() }
            func targets() throws -> [String: String] {
                let json = try httpJSON("http://127.0.0.1:\(agent.port)/api/v1/targets")
                var out: [String: String] = [:]
                for t in ((json["data"] as? [String: Any])?["activeTargets"] as? [[String: Any]]) ?? [] {
                    let labels = t["labels"] as? [String: String] ?? [:]
                    out[labels["instance"] ?? "?"] = (labels["group"] ?? "") + "/" + (t["health"] as? String ?? "")
                }
                return out
            }
            func waitFor(_ what: String, _ condition: ([String: String]) -> Bool) throws {
                let start = Date()
                var last: [String: String] = [:]
                while Date().timeIntervalSince(start) < 10 {
                    last = try targets()
                    if condition(last) { return }
                    Thread.sleep(forTimeInterval: 0.2)
                }
                check(false, "\(what): targets \(last)")
            }
            let nodeTarget = "127.0.0.1:\(node.port)"
            try waitFor("the file's target is scraped") { $0[nodeTarget] == "lab-7/up" }
            // Add the agent itself, then take the node exporter away: no reload, no restart.
            try #"[{"targets": ["127.0.0.1:\#(node.port)", "127.0.0.1:\#(agent.port)"], "labels": {"group": "lab-7"}}]"#
                .write(toFile: agent.dir + "/nodes.json", atomically: true, encoding: .utf8)
            try waitFor("a target added to the file is scraped") { $0.count == 2 && $0["127.0.0.1:\(agent.port)"] == "lab-7/up" }
            try #"[{"targets": ["127.0.0.1:\#(agent.port)"]}]"#.write(toFile: agent.dir + "/nodes.json", atomically: true, encoding: .utf8)
            try waitFor("a target removed from the file is dropped") { $0.count == 1 && $0[nodeTarget] == nil }
            check(agent.output.contains("file_sd: targets changed"), "\(agent.output.suffix(600))")
        }
    }
}
