import Foundation
import Testing
import TributaryTestSupport

/// The central tier may be a real VictoriaMetrics or Prometheus (with
/// `--web.enable-remote-write-receiver`): a site receiver, fed by an HA pair of agents, forwards
/// into both at once; each holds the deduplicated series with the site's external label and
/// without the replica label.
@Suite(.serialized) struct CentralPeersTests {
    @Test func aSiteReceiverForwardsIntoPrometheusAndVictoriaMetrics() async throws {
        try await AgentProcessTests.onThread { check in
            let node = try AgentProcessTests.node()
            defer { node.stop(); node.removeDirectory() }
            let prom = try AgentProcessTests.prometheusReceiver()
            defer { prom.stop(); prom.removeDirectory() }
            let vm = try AgentProcessTests.victoriaMetrics()
            defer { vm.stop(); vm.removeDirectory() }
            let site = try PeerProcess("tributary", readyPath: "/-/ready") { port, dir in
                let yml = """
                    external_labels: {site: site-1}
                    remote_write:
                      - {url: "http://127.0.0.1:\(prom.port)/api/v1/write", name: prometheus, queue_config: {batch_send_deadline: 200ms}}
                      - {url: "http://127.0.0.1:\(vm.port)/api/v1/write", name: victoria-metrics, queue_config: {batch_send_deadline: 200ms}}
                    """
                try yml.write(toFile: dir + "/receiver.yml", atomically: true, encoding: .utf8)
                return ["receive", "--config", dir + "/receiver.yml", "--listen", "127.0.0.1:\(port)", "--data-dir", dir + "/data", "--dedup-window", "500ms"]
            }
            defer { site.stop(); site.removeDirectory() }
            var agents: [PeerProcess] = []
            defer { for a in agents { a.stop(); a.removeDirectory() } }
            for replica in ["a", "b"] {
                agents.append(
                    try AgentProcessTests.agent { port, dir in
                        AgentProcessTests.agentConfig(port: port, dir: dir, replica: replica, node: node.port, writes: ["http://127.0.0.1:\(site.port)/api/v1/write"])
                    })
            }
            let expected = ["__name__": "up", "job": "node", "instance": "127.0.0.1:\(node.port)", "group": "lab-1", "site": "site-1"]
            for (name, base) in [("prometheus", "http://127.0.0.1:\(prom.port)"), ("victoria-metrics", "http://127.0.0.1:\(vm.port)")] {
                var result: [[String: Any]] = []
                for _ in 0..<40 {
                    let json = try httpJSON("\(base)/api/v1/query?query=up")
                    result = ((json["data"] as? [String: Any])?["result"] as? [[String: Any]]) ?? []
                    if !result.isEmpty { break }
                    Thread.sleep(forTimeInterval: 0.5)
                }
                check(result.count == 1, "\(name): one up series, the pair deduplicated: \(result)")
                check(result.first?["metric"] as? [String: String] == expected, "\(name): site label added, replica gone: \(result)")
                let count = try httpJSON("\(base)/api/v1/query?query=count(%7Bjob%3D%22node%22%2Csite%3D%22site-1%22%7D)")
                let n = ((((count["data"] as? [String: Any])?["result"] as? [[String: Any]])?.first?["value"] as? [Any])?.last as? String).flatMap(Double.init) ?? 0
                check(n > 300, "\(name) holds node_exporter's series from the site (\(n))")
            }
            let m = try httpGet("http://127.0.0.1:\(site.port)/metrics")
            check(exposedValue(m, "prometheus_remote_storage_samples_failed_total") == 0, "nothing refused upstream")
        }
    }
}
