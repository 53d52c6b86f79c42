import Foundation
import Testing
import TributaryConfig
import TributaryTestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `configs/grafana/`: the provisioning files load, and every panel's query of every dashboard,
/// sent the way Grafana sends it (POST query_range, `$__rate_interval`, `$__interval` and
/// `$group` substituted), succeeds with data against a receiver fed by an HA pair of real
/// agents scraping a real node_exporter, themselves and the receiver.
@Suite(.serialized) struct GrafanaDashboardsTests {
    static let grafana = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../configs/grafana").standardized.path

    @Test func provisioningFilesLoad() throws {
        for file in ["provisioning/datasources/tributary.yml", "provisioning/dashboards/tributary.yml"] {
            let path = Self.grafana + "/" + file
            let root = try ConfigReader(file: path).compose(try ConfigReader.read(path: path))
            #expect(root != nil, "\(file)")
        }
        let datasource = try String(contentsOfFile: Self.grafana + "/provisioning/datasources/tributary.yml", encoding: .utf8)
        #expect(datasource.contains("type: prometheus") && datasource.contains("uid: tributary") && datasource.contains("url: http://127.0.0.1:9201"))
    }

    static func dashboards() throws -> [(String, [String: Any])] {
        let dir = grafana + "/dashboards"
        return try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }.sorted().map { name in
            let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw TestFailure("\(name) is not a JSON object") }
            return (name, object)
        }
    }

    /// The query as Grafana sends it: the 15 s scrape interval of the data source gives
    /// `$__rate_interval` = 4 × 15 s = 1m; `$group` is a value the variable offers.
    static func substitute(_ expr: String, group: String) -> String {
        expr.replacingOccurrences(of: "$__rate_interval", with: "1m").replacingOccurrences(of: "$__interval", with: "15s").replacingOccurrences(of: "$group", with: group)
    }

    @Test func everyPanelAnswersWithData() async throws {
        #expect(try Self.dashboards().count >= 2)
        try await AgentProcessTests.onThread { check in
            let boards = try Self.dashboards()
            let node = try AgentProcessTests.node()
            defer { node.stop(); node.removeDirectory() }
            let receiver = try AgentProcessTests.receiver(window: "500ms")
            defer { receiver.stop(); receiver.removeDirectory() }
            var agents: [PeerProcess] = []
            defer { for a in agents { a.stop(); a.removeDirectory() } }
            for replica in ["a", "b"] {
                agents.append(
                    try AgentProcessTests.agent { port, dir in
                        AgentProcessTests.haAgentConfig(
                            port: port, dir: dir, replica: replica, receiverPort: receiver.port,
                            jobs: [("node", "127.0.0.1:\(node.port)"), ("agent", "127.0.0.1:\(port)"), ("receiver", "127.0.0.1:\(receiver.port)")])
                    })
            }
            Thread.sleep(forTimeInterval: 8)  // enough samples for 1m rates at 500 ms
            let base = "http://127.0.0.1:\(receiver.port)"
            // The $group variable: label_values(up, group), as Grafana asks for it.
            let values = try httpJSON(base + "/api/v1/label/group/values?match%5B%5D=up")
            let groups = values["data"] as? [String] ?? []
            check(groups == ["lab-1"], "the group variable offers the groups: \(values)")
            let end = Date().timeIntervalSince1970
            var panels = 0
            for (name, board) in boards {
                for panel in board["panels"] as? [[String: Any]] ?? [] {
                    let title = panel["title"] as? String ?? "?"
                    for target in panel["targets"] as? [[String: Any]] ?? [] {
                        guard let expr = target["expr"] as? String else { continue }
                        for group in ["lab-1", ".*"] {
                            let query = Self.substitute(expr, group: group)
                            var post = URLRequest(url: URL(string: base + "/api/v1/query_range")!)
                            post.httpMethod = "POST"
                            post.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
                            var form = URLComponents()
                            form.queryItems = [
                                .init(name: "query", value: query), .init(name: "start", value: String(end - 300)), .init(name: "end", value: String(end)),
                                .init(name: "step", value: "15")
                            ]
                            post.httpBody = Data((form.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B").utf8)
                            let (status, body) = try httpRequest(post)
                            let json = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
                            let result = (json["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
                            check(status == 200 && json["status"] as? String == "success", "\(name) / \(title): \(query): \(status) \(String(decoding: body.prefix(300), as: UTF8.self))")
                            check(!result.isEmpty, "\(name) / \(title): \(query) answers no series")
                        }
                        panels += 1
                    }
                }
            }
            check(panels >= 20, "all panel queries were run: \(panels)")
        }
    }
}
