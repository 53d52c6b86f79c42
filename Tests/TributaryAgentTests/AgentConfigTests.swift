import Foundation
import Testing
import TributaryAgent
import TributaryConfig
import TributaryWire

@testable import TributaryRemoteWrite

@Suite struct AgentConfigTests {
    static var configs: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../configs").standardized
    }

    /// Every agent example in configs/ loads, with the values the demo relies on.
    @Test func examplesLoad() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.configs.path).filter { $0.hasPrefix("agent") && $0.hasSuffix(".yml") }
        #expect(!files.isEmpty)
        for f in files {
            let c = try AgentConfigFile.load(path: Self.configs.appendingPathComponent(f).path)
            #expect(c.port == 9202)
            #expect(c.externalLabels["replica"] != nil)
            #expect(c.scrapeConfigs.contains { $0.jobName == "node" })
            #expect(c.remoteWrites.first?.url.hasSuffix("/api/v1/write") == true)
            let targets = c.scrapeConfigs.flatMap(ScrapeTarget.resolve)
            #expect(targets.allSatisfy { $0.labels["group"] != nil && $0.labels["job"] != nil && $0.labels["instance"] != nil })
        }
    }

    /// A prometheus.yml that uses only the supported keys works unchanged.
    @Test func prometheusYmlWorksUnchanged() throws {
        let c = try AgentConfigFile.parse(
            """
            global:
              scrape_interval: 30s
              evaluation_interval: 30s
              external_labels:
                replica: b
                group: lab-6
            scrape_configs:
              - job_name: 'node'
                scrape_interval: 10s
                metrics_path: /probe
                params:
                  module: [http_2xx]
                honor_labels: true
                body_size_limit: 10MB
                sample_limit: 5000
                basic_auth: {username: u, password: p}
                static_configs:
                  - targets: ['host-1:9100', 'host-2:9100']
                    labels: {rack: r1}
                relabel_configs:
                  - source_labels: [__address__]
                    regex: '(.*):9100'
                    target_label: host
                    replacement: '$1'
            remote_write:
              - url: http://central:9201/api/v1/write
                queue_config: {max_samples_per_send: 500, capacity: 2500}
                metadata_config: {send: false, send_interval: 1m}
                send_exemplars: true
                write_relabel_configs:
                  - {source_labels: [__name__], regex: 'go_.*', action: drop}
            """, file: "prometheus.yml")
        #expect(c.scrapeInterval == 30_000 && c.scrapeTimeout == 10_000)
        #expect(c.externalLabels == ["replica": "b", "group": "lab-6"])
        let sc = try #require(c.scrapeConfigs.first)
        #expect(sc.scrapeInterval == 10_000 && sc.scrapeTimeout == 10_000 && sc.honorLabels)
        #expect(sc.limits.bodyBytes == 10 << 20 && sc.limits.sampleLimit == 5000 && sc.limits.labelLimit == 0)
        #expect(sc.http.authorizationHeader == "Basic dTpw")
        let targets = ScrapeTarget.resolve(sc)
        #expect(targets.map(\.url) == ["http://host-1:9100/probe?module=http_2xx", "http://host-2:9100/probe?module=http_2xx"])
        #expect(targets.first?.labels == ["job": "node", "instance": "host-1:9100", "rack": "r1", "host": "host-1"])
        #expect(c.remoteWrites.first?.queue.maxSamplesPerSend == 500 && c.remoteWrites.first?.name == "rw0")
        #expect(c.remoteWrites.first?.version == .v1)
        #expect(c.remoteWrites.first?.sendExemplars == true)
        #expect(c.remoteWrites.first?.metadata.send == false && c.remoteWrites.first?.metadata.sendInterval == 60_000)
    }

    static let bad: [(String, String)] = [
        ("scrape_configs:\n  - job_name: a\n    scrape_intervall: 5s\n", "a.yml:3:5: unknown key \"scrape_intervall\""),
        ("scrape_configs:\n  - static_configs: []\n", "a.yml:2:5: scrape config needs job_name"),
        ("scrape_configs:\n  - job_name: a\n  - job_name: a\n", "a.yml:3:5: duplicate job_name \"a\""),
        ("global:\n  scrape_interval: often\n", "a.yml:2:20: expected a duration"),
        ("global:\n  scrape_interval: 5s\n  scrape_timeout: 10s\n", "a.yml:3:19: global.scrape_timeout (10000 ms) is longer"),
        ("scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['http://x/metrics']}]\n", "a.yml:3:32: target \"http://x/metrics\" must be HOST:PORT"),
        ("scrape_configs:\n  - job_name: a\n    relabel_configs: [{action: rename}]\n", "a.yml:3:32: unknown relabel action \"rename\""),
        ("scrape_configs:\n  - job_name: a\n    relabel_configs: [{regex: '(a'}]\n", "a.yml:3:31: invalid regex \"(a\""),
        ("scrape_configs:\n  - job_name: a\n    relabel_configs: [{action: hashmod, target_label: t}]\n", "a.yml:3:23: relabel action hashmod needs a modulus"),
        ("remote_write:\n  - url: ftp://x\n", "a.yml:2:10: url must be an http:// or https:// URL"),
        ("remote_write:\n  - url: http://x/w\n    protobuf_message: v3\n", "a.yml:3:23: protobuf_message must be"),
        (
            "remote_write:\n  - url: http://x/w\n    metadata_config: {send: true}\n    protobuf_message: io.prometheus.write.v2.Request\n",
            "a.yml:3:29: metadata_config.send: true needs protobuf_message: prometheus.WriteRequest"
        ),
        ("remote_write:\n  - url: http://x/w\n    metadata_config: {send_interval: soon}\n", "a.yml:3:38: expected a duration"),
        ("remote_write:\n  - url: http://x/w\n    metadata_config: {max_samples_per_send: 0}\n", "a.yml:3:45: metadata_config.max_samples_per_send must be positive"),
        ("remote_write:\n  - url: http://x/w\n    send_exemplars: maybe\n", "a.yml:3:21: expected true or false"),
        ("global:\n  external_labels: {1bad: x}\n", "a.yml:2:20: invalid label name \"1bad\""),
        ("scrape_configs:\n  - job_name: a\n    honor_labels: yes please\n", "a.yml:3:19: expected true or false"),
        ("global: {}\nglobal: {}\n", "a.yml:1:1: duplicate key \"global\""),
        ("scrape_configs:\n  - job_name: a\n    body_size_limit: lots\n", "a.yml:3:22: expected a size like 10MB")
    ]

    @Test(arguments: bad)
    func errorsNameFileLineAndColumn(_ c: (String, String)) {
        do {
            _ = try AgentConfigFile.parse(c.0, file: "a.yml")
            Issue.record("expected an error for \(c.0)")
        } catch {
            #expect(error.description.hasPrefix(c.1), "got \(error.description)")
        }
    }
}
