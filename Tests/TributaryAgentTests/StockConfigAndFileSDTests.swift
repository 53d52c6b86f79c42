import Foundation
import Testing
import TributaryConfig

@testable import TributaryAgent

/// A stock `prometheus.yml` loads in the agent (what only a Prometheus server acts on is named
/// and ignored), and `file_sd_configs` files are read, merged and followed as they change.
@Suite struct StockConfigAndFileSDTests {
    /// Debian's own sample prometheus.yml, as the prometheus package installs it.
    @Test func debiansStockPrometheusYmlLoads() throws {
        let path = "/etc/prometheus/prometheus.yml"
        guard FileManager.default.fileExists(atPath: path) else { throw TestError("\(path) is missing: run ./scripts/setup (package prometheus)") }
        let c = try AgentConfigFile.load(path: path)
        #expect(c.scrapeConfigs.map(\.jobName) == ["prometheus", "node"])
        #expect(c.scrapeConfigs.first?.scrapeInterval == 5_000)
        #expect(c.externalLabels == ["monitor": "example"])
        let ignored = c.ignoredKeys.joined(separator: ", ")
        #expect(ignored.contains("alerting (line 1") && ignored.contains("rule_files (line 2") && ignored.contains("global.evaluation_interval (line 5)"), "\(ignored)")
    }

    @Test func serverOnlyKeysAreNamedNotRefused() throws {
        let text = """
            global: {scrape_interval: 15s, evaluation_interval: 30s}
            rule_files: [rules.yml]
            alerting: {alertmanagers: [{static_configs: [{targets: ["am:9093"]}]}]}
            remote_read: [{url: "http://thanos:10901/api/v1/read"}]
            storage:
              tsdb: {out_of_order_time_window: 10m}
              exemplars: {max_exemplars: 100000}
            tracing: {endpoint: "otel:4317"}
            scrape_configs: [{job_name: a, static_configs: [{targets: ["h:1"]}]}]
            """
        let c = try AgentConfigFile.parse(text, file: "prometheus.yml")
        #expect(
            c.ignoredKeys == [
                "alerting (line 3)", "remote_read (line 4)", "rule_files (line 2)", "tracing (line 8)", "storage.exemplars (line 7)", "storage.tsdb (line 6)",
                "global.evaluation_interval (line 1)"
            ], "\(c.ignoredKeys)")
        // Service discovery the agent does not have stays an error, never silently empty.
        #expect(throws: ConfigError.self) { try AgentConfigFile.parse("scrape_configs: [{job_name: a, kubernetes_sd_configs: [{role: pod}]}]\n", file: "p.yml") }
        #expect(throws: ConfigError.self) { try AgentConfigFile.parse("scrape_configs: [{job_name: a, file_sd_configs: [{files: [targets.txt]}]}]\n", file: "p.yml") }
    }

    @Test func fileSDReadsJSONAndYAMLFollowsChangesAndKeepsGroupsOfABrokenFile() throws {
        let dir = NSTemporaryDirectory() + "tributary-filesd-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir + "/targets", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #"[{"targets": ["10.0.0.1:9100", "10.0.0.2:9100"], "labels": {"group": "lab-1"}}]"#.write(toFile: dir + "/targets/a.json", atomically: true, encoding: .utf8)
        try "- targets: [\"10.0.1.1:9100\"]\n  labels: {group: lab-2}\n".write(toFile: dir + "/targets/b.yml", atomically: true, encoding: .utf8)
        let yml = """
            scrape_configs:
              - job_name: node
                file_sd_configs: [{files: ["targets/*.json", "targets/*.yml"], refresh_interval: 1h}]
                static_configs: [{targets: ["10.9.9.9:9100"]}]
            """
        try yml.write(toFile: dir + "/agent.yml", atomically: true, encoding: .utf8)
        let config = try AgentConfigFile.load(path: dir + "/agent.yml")
        let sc = try #require(config.scrapeConfigs.first)
        #expect(sc.fileSDConfigs.first?.files == [dir + "/targets/*.json", dir + "/targets/*.yml"], "relative to the file's directory")
        #expect(sc.fileSDConfigs.first?.refreshInterval == 3_600_000)

        let discovery = FileDiscovery()
        func targets() -> [String: String] {
            var out: [String: String] = [:]
            for g in sc.fileSDConfigs.flatMap(discovery.groups) {
                let file = ((g.labels["__meta_filepath"] ?? "") as NSString).lastPathComponent
                for t in g.targets { out[t] = (g.labels["group"] ?? "") + "@" + file }
            }
            return out
        }
        var (changed, errors) = discovery.refresh(config.scrapeConfigs, now: 1000)
        #expect(changed && errors.isEmpty)
        #expect(targets() == ["10.0.0.1:9100": "lab-1@a.json", "10.0.0.2:9100": "lab-1@a.json", "10.0.1.1:9100": "lab-2@b.yml"])
        (changed, _) = discovery.refresh(config.scrapeConfigs, now: 1001)
        #expect(!changed, "nothing changed, nothing read")

        // A change (another size) is read at the next look.
        try #"[{"targets": ["10.0.0.1:9100"], "labels": {"group": "lab-1"}}, {"targets": ["10.0.0.3:9100"]}]"#.write(toFile: dir + "/targets/a.json", atomically: true, encoding: .utf8)
        (changed, errors) = discovery.refresh(config.scrapeConfigs, now: 1002)
        #expect(changed && errors.isEmpty)
        #expect(targets()["10.0.0.2:9100"] == nil && targets()["10.0.0.3:9100"] == "@a.json")

        // A broken file keeps what it had, and says where it broke.
        try "- targets: [\"10.0.1.1:9100\"\n  labels: oops\n".write(toFile: dir + "/targets/b.yml", atomically: true, encoding: .utf8)
        (changed, errors) = discovery.refresh(config.scrapeConfigs, now: 1003)
        #expect(!changed)
        #expect(errors.count == 1 && errors.first?.contains("b.yml:") == true, "\(errors)")
        #expect(targets()["10.0.1.1:9100"] == "lab-2@b.yml")

        // A removed file takes its targets with it.
        try FileManager.default.removeItem(atPath: dir + "/targets/b.yml")
        (changed, _) = discovery.refresh(config.scrapeConfigs, now: 1004)
        #expect(changed && targets()["10.0.1.1:9100"] == nil)

        // Static and discovered targets of a job are scraped together, with __meta_filepath
        // available to relabelling and gone afterwards.
        var merged = sc
        for sd in sc.fileSDConfigs { merged.staticConfigs += discovery.groups(sd) }
        let resolved = ScrapeTarget.resolve(merged)
        #expect(Set(resolved.map(\.instance)) == ["10.9.9.9:9100", "10.0.0.1:9100", "10.0.0.3:9100"])
        #expect(resolved.allSatisfy { !$0.labels.keys.contains { $0.hasPrefix("__") } })
    }

    struct TestError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }
}
