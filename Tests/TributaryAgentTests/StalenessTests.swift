import Foundation
import Logging
import NIOPosix
import Synchronization
import Testing
import TributaryModel
import TributaryWAL

@testable import TributaryAgent
@testable import TributaryRemoteWrite

/// Scrape results turned into WAL records at injected times: labels, synthetic series, and
/// stale markers when a series disappears or the target goes down.
@Suite struct StalenessTests {
    /// A loop over a temporary WAL with one target `job="node"`, `group="lab-1"`.
    static func loop(honorLabels: Bool = false, metricRelabel: [RelabelConfig] = [], limits: ScrapeLimits = ScrapeLimits()) throws -> (ScrapeLoop, String) {
        let dir = NSTemporaryDirectory() + "tributary-agent-" + UUID().uuidString
        var sc = ScrapeConfig(jobName: "node", scrapeInterval: 15_000, scrapeTimeout: 10_000)
        var group = StaticConfig()
        group.targets = ["host-1:9100"]
        group.labels = ["group": "lab-1"]
        sc.staticConfigs = [group]
        sc.honorLabels = honorLabels
        sc.metricRelabelConfigs = metricRelabel
        sc.limits = limits
        let target = try #require(ScrapeTarget.resolve(sc).first)
        let storage = try QueueStorage(directory: dir, logger: Logger(label: "test"))
        let loop = ScrapeLoop(target: target, storage: storage, externalLabels: ["replica": "a"], metrics: AgentMetrics(), logger: Logger(label: "test")) { _ in
            throw TestError("no fetching in this test")
        }
        return (loop, dir)
    }

    struct TestError: Error { var message: String; init(_ m: String) { message = m } }

    /// Everything in the WAL: series labels by id and samples in order, as `labels → [(t, v)]`.
    static func written(_ dir: String) throws -> [String: [(Int64, Double)]] {
        let wal = try WAL(directory: dir + "/wal", logger: Logger(label: "test"))
        var names: [UInt32: String] = [:]
        var out: [String: [(Int64, Double)]] = [:]
        try wal.replay { kind, payload in
            switch kind {
            case .series: _ = RecordCodec.decodeSeries(payload) { id, labels in names[id] = Labels(labels).description }
            case .samples: _ = RecordCodec.decodeSamples(payload) { id, s in out[names[id] ?? "?\(id)", default: []].append((s.timestamp, s.value)) }
            case .exemplars, .deletions: break
            }
        }
        return out
    }

    static func body(_ text: String) -> (body: [UInt8], contentType: String?) { (Array(text.utf8), "text/plain; version=0.0.4") }

    @Test func seriesThatDisappearGetStaleMarkers() throws {
        let (loop, dir) = try Self.loop()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        loop.ingest(Self.body("a 1\nb{x=\"1\"} 2\n"), at: 1_000, duration: 0.01)
        loop.ingest(Self.body("a 3\n"), at: 16_000, duration: 0.01)
        loop.ingest(Self.body("a 4\nb{x=\"1\"} 5\n"), at: 31_000, duration: 0.01)
        let w = try Self.written(dir)
        let a = "{__name__=\"a\", group=\"lab-1\", instance=\"host-1:9100\", job=\"node\", replica=\"a\"}"
        let b = "{__name__=\"b\", group=\"lab-1\", instance=\"host-1:9100\", job=\"node\", replica=\"a\", x=\"1\"}"
        #expect(w[a]?.map(\.1) == [1, 3, 4])
        let bs = try #require(w[b])
        #expect(bs.count == 3 && bs[0] == (1_000, 2) && bs[1].0 == 16_000 && StaleMarker.isStale(bs[1].1) && bs[2] == (31_000, 5))
        let up = "{__name__=\"up\", group=\"lab-1\", instance=\"host-1:9100\", job=\"node\", replica=\"a\"}"
        #expect(w[up]?.map(\.1) == [1, 1, 1])
        let added = "{__name__=\"scrape_series_added\", group=\"lab-1\", instance=\"host-1:9100\", job=\"node\", replica=\"a\"}"
        // b came back as the same series (still cached), so nothing was added in the third scrape.
        #expect(w[added]?.map(\.1) == [2, 0, 0])
    }

    @Test func targetDownEndsEverySeries() throws {
        let (loop, dir) = try Self.loop()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        loop.ingest(Self.body("a 1\nb 2\n"), at: 1_000, duration: 0.01)
        loop.ingest(nil, failure: "connection refused", at: 16_000, duration: 0.01)
        loop.ingest(nil, failure: "connection refused", at: 31_000, duration: 0.01)
        loop.ingest(Self.body("a 7\n"), at: 46_000, duration: 0.01)
        let w = try Self.written(dir)
        for name in ["a", "b"] {
            let key = "{__name__=\"\(name)\", group=\"lab-1\", instance=\"host-1:9100\", job=\"node\", replica=\"a\"}"
            let s = try #require(w[key])
            #expect(s[1].0 == 16_000 && StaleMarker.isStale(s[1].1), "\(name) ends when the target goes down, once")
            #expect(s.count == (name == "a" ? 3 : 2))
        }
        let up = "{__name__=\"up\", group=\"lab-1\", instance=\"host-1:9100\", job=\"node\", replica=\"a\"}"
        #expect(w[up]?.map(\.1) == [1, 0, 0, 1])
        #expect(loop.status.withLock { $0.health } == "up")
    }

    @Test func aBadBodyIsADownTargetAndWritesNothingOfIt() throws {
        let (loop, dir) = try Self.loop()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        loop.ingest(Self.body("a 1\n"), at: 1_000, duration: 0.01)
        loop.ingest(Self.body("a 2\nnew 5\nbroken{ 3\n"), at: 16_000, duration: 0.01)
        #expect(loop.status.withLock { $0.lastError }.hasPrefix("parse error at 3:"), "the error names line and column")
        // The series first seen in the failed scrape is logged when it is next scraped.
        loop.ingest(Self.body("a 4\nnew 6\n"), at: 31_000, duration: 0.01)
        let w = try Self.written(dir)
        #expect(w["{__name__=\"new\", group=\"lab-1\", instance=\"host-1:9100\", job=\"node\", replica=\"a\"}"]?.map(\.1) == [6])
        let a = "{__name__=\"a\", group=\"lab-1\", instance=\"host-1:9100\", job=\"node\", replica=\"a\"}"
        #expect(w[a]?.count == 3 && StaleMarker.isStale(w[a]?[1].1 ?? 0) && w[a]?[2].1 == 4)
    }

    /// An OpenMetrics answer (chosen by Content-Type): timestamps in seconds become
    /// milliseconds (honor_timestamps), exemplars are accepted, `# EOF` ends it.
    @Test func openMetricsScrape() throws {
        let (loop, dir) = try Self.loop()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let body = "# TYPE requests counter\nrequests_total{code=\"200\"} 7 1700000000.5 # {trace_id=\"abc\"} 1\n# EOF\n"
        loop.ingest((Array(body.utf8), "application/openmetrics-text; version=1.0.0; charset=utf-8"), at: 1_700_000_001_000, duration: 0)
        let w = try Self.written(dir)
        let s = w["{__name__=\"requests_total\", code=\"200\", group=\"lab-1\", instance=\"host-1:9100\", job=\"node\", replica=\"a\"}"]
        #expect(s?.count == 1 && s?.first?.0 == 1_700_000_000_500 && s?.first?.1 == 7)
        // The same body as text 0.0.4 does not parse (no exemplars there): the target is down.
        loop.ingest((Array(body.utf8), "text/plain; version=0.0.4"), at: 1_700_000_016_000, duration: 0)
        #expect(loop.status.withLock { $0.health } == "down")
    }

    /// Over `sample_limit` or a label limit the scrape fails as a whole, as in Prometheus:
    /// `up` is 0, none of its samples are written, and the series of the last good scrape end.
    @Test func scrapeLimits() throws {
        var limits = ScrapeLimits()
        limits.sampleLimit = 2
        limits.labelValueLengthLimit = 16
        let (loop, dir) = try Self.loop(limits: limits)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        loop.ingest(Self.body("a 1\nb 2\n"), at: 1_000, duration: 0)
        loop.ingest(Self.body("a 1\nb 2\nc 3\n"), at: 16_000, duration: 0)
        #expect(loop.status.withLock { $0.lastError }.hasPrefix("sample_limit exceeded"))
        loop.ingest(Self.body("a 1\nd{x=\"a value longer than sixteen bytes\"} 2\n"), at: 31_000, duration: 0)
        #expect(loop.status.withLock { $0.lastError }.hasPrefix("label_value_length_limit exceeded"))
        let w = try Self.written(dir)
        let up = "{__name__=\"up\", group=\"lab-1\", instance=\"host-1:9100\", job=\"node\", replica=\"a\"}"
        #expect(w[up]?.map(\.1) == [1, 0, 0])
        #expect(w.keys.filter { $0.contains("\"c\"") || $0.contains("\"d\"") }.isEmpty, "nothing of a failed scrape is written")
        let a = "{__name__=\"a\", group=\"lab-1\", instance=\"host-1:9100\", job=\"node\", replica=\"a\"}"
        #expect(w[a]?.count == 2 && StaleMarker.isStale(w[a]?.last?.1 ?? 0), "a ends when the scrape fails")
    }

    @Test func honorLabelsAndMetricRelabelling() throws {
        var drop = try RelabelConfig(regex: "go_.*")
        drop.sourceLabels = ["__name__"]
        drop.action = .drop
        let (plain, d1) = try Self.loop(metricRelabel: [drop])
        defer { try? FileManager.default.removeItem(atPath: d1) }
        plain.ingest(Self.body("m{job=\"pushed\",instance=\"\"} 1\ngo_goroutines 5\n"), at: 1_000, duration: 0)
        let w1 = try Self.written(d1)
        #expect(w1["{__name__=\"m\", exported_job=\"pushed\", group=\"lab-1\", instance=\"host-1:9100\", job=\"node\", replica=\"a\"}"]?.count == 1)
        #expect(!w1.keys.contains { $0.contains("go_goroutines") })

        let (honoring, d2) = try Self.loop(honorLabels: true)
        defer { try? FileManager.default.removeItem(atPath: d2) }
        honoring.ingest(Self.body("m{job=\"pushed\"} 1\n"), at: 1_000, duration: 0)
        #expect(try Self.written(d2)["{__name__=\"m\", group=\"lab-1\", instance=\"host-1:9100\", job=\"pushed\", replica=\"a\"}"]?.count == 1)
    }
}

/// SIGHUP's reload: a target the configuration drops gets stale markers for all its series
/// (the synthetic ones too); an unchanged target keeps its loop.
@Suite struct ReloadTests {
    @Test func droppedTargetIsMarkedStale() async throws {
        let dir = NSTemporaryDirectory() + "tributary-agent-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = AgentConfiguration()
        c.dataDirectory = dir
        var sc = ScrapeConfig(jobName: "node", scrapeInterval: 15_000, scrapeTimeout: 10_000)
        var group = StaticConfig()
        group.targets = ["host-1:9100", "host-2:9100"]
        sc.staticConfigs = [group]
        c.scrapeConfigs = [sc]
        let agent = try Agent(configuration: c, logger: Logger(label: "test"), eventLoopGroup: MultiThreadedEventLoopGroup.singleton) { _ in throw StalenessTests.TestError("not used") }
        #expect(agent.loops.count == 2)
        let kept = try #require(agent.loops.first { $0.target.instance == "host-1:9100" })
        for loop in agent.loops { loop.ingest(StalenessTests.body("m 1\n"), at: 1_000, duration: 0) }
        c.scrapeConfigs[0].staticConfigs[0].targets = ["host-1:9100"]
        try await agent.reload(c)
        #expect(agent.loops.count == 1 && agent.loops.first === kept)
        let w = try StalenessTests.written(dir)
        for name in ["m", "up", "scrape_duration_seconds"] {
            let gone = try #require(w["{__name__=\"\(name)\", instance=\"host-2:9100\", job=\"node\"}"], "\(name)")
            #expect(gone.count == 2 && StaleMarker.isStale(gone[1].1), "\(name) of the dropped target ends")
            #expect(w["{__name__=\"\(name)\", instance=\"host-1:9100\", job=\"node\"}"]?.count == 1, "\(name) of the kept target goes on")
        }
    }

    /// New external labels apply on reload: the series carry them from the next scrape, and the
    /// series under the old labels end with stale markers.
    @Test func externalLabelsApplyOnReload() async throws {
        let dir = NSTemporaryDirectory() + "tributary-agent-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = AgentConfiguration()
        c.dataDirectory = dir
        c.externalLabels = ["replica": "a"]
        var sc = ScrapeConfig(jobName: "node", scrapeInterval: 15_000, scrapeTimeout: 10_000)
        var group = StaticConfig()
        group.targets = ["host-1:9100"]
        sc.staticConfigs = [group]
        c.scrapeConfigs = [sc]
        let agent = try Agent(configuration: c, logger: Logger(label: "test"), eventLoopGroup: MultiThreadedEventLoopGroup.singleton) { _ in throw StalenessTests.TestError("not used") }
        for loop in agent.loops { loop.ingest(StalenessTests.body("m 1\n"), at: 1_000, duration: 0) }
        c.externalLabels = ["replica": "a", "dc": "west"]
        try await agent.reload(c)
        for loop in agent.loops { loop.ingest(StalenessTests.body("m 2\n"), at: 16_000, duration: 0) }
        let w = try StalenessTests.written(dir)
        let old = try #require(w["{__name__=\"m\", instance=\"host-1:9100\", job=\"node\", replica=\"a\"}"], "\(w.keys)")
        #expect(old.count == 2 && StaleMarker.isStale(old[1].1), "the series under the old labels ends")
        let new = try #require(w["{__name__=\"m\", dc=\"west\", instance=\"host-1:9100\", job=\"node\", replica=\"a\"}"], "\(w.keys)")
        #expect(new.count == 1 && new[0].1 == 2)
    }
}
