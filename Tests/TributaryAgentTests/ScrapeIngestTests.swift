import Foundation
import Testing
import TributaryModel

@testable import TributaryAgent

/// ``ScrapeIngest`` alone: the batch each scrape would write, with no socket, WAL or lock.
@Suite struct ScrapeIngestTests {
    static func ingest() throws -> ScrapeIngest {
        var sc = ScrapeConfig(jobName: "node", scrapeInterval: 15_000, scrapeTimeout: 10_000)
        var group = StaticConfig()
        group.targets = ["host-1:9100"]
        group.labels = ["group": "lab-1"]
        sc.staticConfigs = [group]
        sc.limits.sampleLimit = 3
        return ScrapeIngest(target: try #require(ScrapeTarget.resolve(sc).first), externalLabels: ["replica": "a"])
    }

    /// Series ids in order from 1, as a loop's allocator hands them out.
    static func allocator() -> (Int) -> UInt32 {
        var next: UInt32 = 1
        return { n in
            defer { next += UInt32(n) }
            return next
        }
    }

    static func text(_ s: String) -> (body: [UInt8], contentType: String?) { (Array(s.utf8), "text/plain; version=0.0.4") }

    @Test func batchesOfAScrapeSequence() throws {
        let ingest = try Self.ingest()
        var state = ScrapeIngest.State()
        let allocate = Self.allocator()
        let name = { (labels: Labels) in labels.pairs.first { $0.0 == "__name__" }?.1 ?? "" }

        // First scrape: two series and the five synthetic ones are new.
        let first = ingest.ingest(Self.text("a 1\nb{x=\"1\"} 2\n"), failure: nil, at: 1_000, duration: 0.5, state: &state, allocate: allocate)
        #expect(first.error == nil)
        #expect(first.newSeries.map { name($0.1) } == ["a", "b", "up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_series_added"])
        #expect(first.newSeries[1].1 == ["__name__": "b", "group": "lab-1", "instance": "host-1:9100", "job": "node", "replica": "a", "x": "1"])
        #expect(first.samples.map(\.value) == [1, 2, 1, 0.5, 2, 2, 2])
        #expect(first.samples.allSatisfy { $0.timestamp == 1_000 })
        #expect((first.scraped, first.kept, first.added) == (2, 2, 2))
        let a = first.newSeries[0].0, b = first.newSeries[1].0

        // b disappears: a stale marker for it, nothing new.
        let second = ingest.ingest(Self.text("a 3\n"), failure: nil, at: 16_000, duration: 0.1, state: &state, allocate: allocate)
        #expect(second.newSeries.isEmpty)
        #expect(second.ended == [b])
        let staleIndex = try #require(second.ids.firstIndex(of: b))
        #expect(StaleMarker.isStale(second.samples[staleIndex].value))
        #expect(second.ids.first == a && second.samples.first?.value == 3)

        // Over the sample limit: the scrape fails whole; a is ended, up is 0.
        let third = ingest.ingest(Self.text("a 1\nc 2\nd 3\ne 4\n"), failure: nil, at: 31_000, duration: 0.1, state: &state, allocate: allocate)
        #expect(third.error?.contains("sample_limit") == true, "\(third.error ?? "")")
        #expect(third.newSeries.isEmpty, "series of a failed scrape are not written")
        #expect(third.ended == [a])
        let upIndex = try #require(third.ids.firstIndex(of: state.synthetic[0]))
        #expect(third.samples[upIndex].value == 0)

        // Down: up 0 again, nothing live to end.
        let fourth = ingest.ingest(nil, failure: "connection refused", at: 46_000, duration: 0.1, state: &state, allocate: allocate)
        #expect(fourth.error == "connection refused")
        #expect(fourth.ended.isEmpty)
        #expect(fourth.samples.count == 5)

        // Back: a is known from before (same id), a parse error fails the scrape with its position.
        let fifth = ingest.ingest(Self.text("a 5\n"), failure: nil, at: 61_000, duration: 0.1, state: &state, allocate: allocate)
        #expect(fifth.ids.first == a && fifth.newSeries.isEmpty)
        let broken = ingest.ingest(Self.text("a 6\nbroken{ 3\n"), failure: nil, at: 76_000, duration: 0.1, state: &state, allocate: allocate)
        #expect(broken.error?.hasPrefix("parse error at") == true, "\(broken.error ?? "")")
        #expect(broken.ended == [a])
        let ofA = zip(broken.ids, broken.samples).filter { $0.0 == a }.map(\.1)
        #expect(ofA.count == 1 && ofA.allSatisfy(\.isStale), "nothing of the broken body is written, only a's stale marker: \(ofA)")
    }

    /// `# HELP`, `# TYPE` and `# UNIT` become the target's metric metadata (what the queues send
    /// over remote write 1.0), kept from the last good scrape.
    @Test func metadataOfTheLastGoodScrape() throws {
        let ingest = try Self.ingest()
        var state = ScrapeIngest.State()
        let allocate = Self.allocator()
        let body = """
            # HELP node_load1 1m load average.
            # TYPE node_load1 gauge
            node_load1 0.5
            # HELP http_requests_total Requests with a \\\\ and a \\n.
            # TYPE http_requests_total counter
            http_requests_total 7
            # TYPE plain untyped
            plain 1

            """
        _ = ingest.ingest(Self.text(body), failure: nil, at: 1_000, duration: 0, state: &state, allocate: allocate)
        #expect(
            state.metadata == [
                MetricMetadata(type: .gauge, metricFamilyName: "node_load1", help: "1m load average."),
                MetricMetadata(type: .counter, metricFamilyName: "http_requests_total", help: "Requests with a \\ and a \n."),
                MetricMetadata(type: .unknown, metricFamilyName: "plain")
            ], "\(state.metadata)")
        let first = state.metadataFingerprint
        // A second target with the same lines shares the first's list (one copy per site, not
        // per target).
        var other = ScrapeIngest.State()
        _ = ingest.ingest(Self.text(body), failure: nil, at: 1_000, duration: 0, state: &other, allocate: allocate)
        #expect(other.metadata == state.metadata)
        #expect(other.metadata.withUnsafeBufferPointer { $0.baseAddress } == state.metadata.withUnsafeBufferPointer { $0.baseAddress })
        // The same lines: the same fingerprint, nothing rebuilt. Changed help: rebuilt.
        _ = ingest.ingest(Self.text(body), failure: nil, at: 16_000, duration: 0, state: &state, allocate: allocate)
        #expect(state.metadataFingerprint == first)
        _ = ingest.ingest(Self.text(body.replacingOccurrences(of: "1m load average.", with: "Load, 1 minute.")), failure: nil, at: 31_000, duration: 0, state: &state, allocate: allocate)
        #expect(state.metadata.first?.help == "Load, 1 minute." && state.metadataFingerprint != first)
        // A failed scrape keeps the last good scrape's metadata.
        _ = ingest.ingest(Self.text("# TYPE x gauge\nx{ 1\n"), failure: nil, at: 46_000, duration: 0, state: &state, allocate: allocate)
        #expect(state.metadata.count == 3 && state.metadata.first?.help == "Load, 1 minute.")

        // OpenMetrics: the family name of the TYPE line, and its unit.
        var om = ScrapeIngest.State()
        let omBody = "# TYPE rx_bytes counter\n# UNIT rx_bytes bytes\n# HELP rx_bytes Received.\nrx_bytes_total 5\n# EOF\n"
        _ = ingest.ingest((Array(omBody.utf8), "application/openmetrics-text; version=1.0.0"), failure: nil, at: 1_000, duration: 0, state: &om, allocate: allocate)
        #expect(om.metadata == [MetricMetadata(type: .counter, metricFamilyName: "rx_bytes", help: "Received.", unit: "bytes")], "\(om.metadata)")
    }
}
