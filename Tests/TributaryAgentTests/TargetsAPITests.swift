import Foundation
import Logging
import NIOPosix
import Testing
import TributaryModel

@testable import TributaryAgent

/// `/api/v1/targets` as Prometheus answers it: the targets `relabel_configs` dropped are listed
/// with the labels they were discovered with (an operator's first question when a target is
/// not scraped), and `state` and `scrapePool` filter the answer.
@Suite struct TargetsAPITests {
    static func agent(dropHost3: Bool, _ dir: String) throws -> (Agent, AgentConfiguration) {
        var c = AgentConfiguration()
        c.dataDirectory = dir
        var node = ScrapeConfig(jobName: "node", scrapeInterval: 15_000, scrapeTimeout: 10_000)
        var group = StaticConfig()
        group.targets = ["host-1:9100", "host-2:9100", "host-3:9100"]
        group.labels = ["group": "lab-1"]
        node.staticConfigs = [group]
        if dropHost3 {
            var drop = try RelabelConfig(regex: "host-3:.*")
            drop.sourceLabels = ["__address__"]
            drop.action = .drop
            node.relabelConfigs = [drop]
        }
        var other = ScrapeConfig(jobName: "other", scrapeInterval: 15_000, scrapeTimeout: 10_000)
        var single = StaticConfig()
        single.targets = ["host-9:9100"]
        other.staticConfigs = [single]
        c.scrapeConfigs = [node, other]
        struct Unused: Error {}
        let agent = try Agent(configuration: c, logger: Logger(label: "test"), eventLoopGroup: MultiThreadedEventLoopGroup.singleton) { _ in throw Unused() }
        return (agent, c)
    }

    static func answer(_ agent: Agent, state: String? = nil, scrapePool: String? = nil) throws -> (active: [[String: Any]], dropped: [[String: Any]], counts: [String: Int]) {
        let json = try JSONSerialization.jsonObject(with: Data(AgentServer.targetsJSON(agent, state: state, scrapePool: scrapePool).utf8)) as? [String: Any]
        let data = try #require(json?["data"] as? [String: Any])
        return (
            data["activeTargets"] as? [[String: Any]] ?? [], data["droppedTargets"] as? [[String: Any]] ?? [], data["droppedTargetCounts"] as? [String: Int] ?? [:]
        )
    }

    @Test func droppedTargetsAreListedAndTheAnswerFilters() async throws {
        let dir = NSTemporaryDirectory() + "tributary-agent-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (agent, c) = try Self.agent(dropHost3: true, dir)
        var all = try Self.answer(agent)
        #expect(all.active.count == 3)
        #expect(all.dropped.count == 1)
        let dropped = all.dropped.first?["discoveredLabels"] as? [String: String]
        #expect(dropped?["__address__"] == "host-3:9100" && dropped?["job"] == "node" && dropped?["group"] == "lab-1", "\(all.dropped)")
        #expect(dropped?["__metrics_path__"] == "/metrics" && dropped?["__scheme__"] == "http")
        #expect(all.dropped.first?["scrapePool"] as? String == "node")
        #expect(all.counts == ["node": 1, "other": 0])
        // An active target's discovered labels are those before relabelling, `__` ones included.
        let host1 = try #require(all.active.first { ($0["labels"] as? [String: String])?["instance"] == "host-1:9100" })
        let discovered = host1["discoveredLabels"] as? [String: String]
        #expect(discovered?["__address__"] == "host-1:9100" && discovered?["group"] == "lab-1" && discovered?["__scrape_interval__"] == "15s", "\(host1)")

        var filtered = try Self.answer(agent, state: "active")
        #expect(filtered.active.count == 3 && filtered.dropped.isEmpty)
        filtered = try Self.answer(agent, state: "Dropped")
        #expect(filtered.active.isEmpty && filtered.dropped.count == 1)
        filtered = try Self.answer(agent, state: "any")
        #expect(filtered.active.count == 3 && filtered.dropped.count == 1)
        filtered = try Self.answer(agent, state: "sideways")
        #expect(filtered.active.isEmpty && filtered.dropped.isEmpty, "an unknown state shows neither, as Prometheus")
        filtered = try Self.answer(agent, scrapePool: "other")
        #expect(filtered.active.count == 1 && filtered.dropped.isEmpty)
        #expect((filtered.active.first?["labels"] as? [String: String])?["instance"] == "host-9:9100")
        filtered = try Self.answer(agent, scrapePool: "node")
        #expect(filtered.active.count == 2 && filtered.dropped.count == 1)

        // A reload without the rule: nothing dropped any more.
        var reloaded = c
        reloaded.scrapeConfigs[0].relabelConfigs = []
        try await agent.reload(reloaded)
        all = try Self.answer(agent)
        #expect(all.active.count == 4 && all.dropped.isEmpty && all.counts == ["node": 0, "other": 0])
    }
}
