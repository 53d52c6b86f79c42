import Testing
import TributaryModel
import TributaryWire

/// Bodies recorded from Debian's prometheus 2.42 in agent mode (scripts/capture-fixtures).
@Suite struct GoldenTests {
    @Test func recordedHeadersAreRemoteWrite1() throws {
        let headers = try Fixtures.text("prometheus-2.42-agent.headers")
        #expect(headers.contains("Content-Type: application/x-protobuf\n"))
        #expect(headers.contains("Content-Encoding: snappy"))
        #expect(headers.contains("X-Prometheus-Remote-Write-Version: 0.1.0"))
        #expect(RemoteWriteVersion(contentType: "application/x-protobuf") == .v1)
    }

    @Test(arguments: Fixtures.names(prefix: "prometheus-2.42-agent-"))
    func decodesRecordedBody(_ name: String) throws {
        let body = try Fixtures.bytes(name)
        let decoder = WriteRequestDecoder()
        let batch = try decoder.decode(body, version: .v1)
        #expect(batch.firstError == nil, "\(batch.firstError?.message ?? "")")
        #expect(batch.rejectedSeries == 0)
        if batch.series.isEmpty {
            #expect(!batch.metadata.isEmpty, "\(name) holds neither series nor metadata")
            return
        }
        let request = batch.makeWriteRequest()
        // Every series carries the scrape's target labels and the agent's external labels.
        for series in request.timeseries {
            #expect(series.labels.value(of: "__name__") != nil, "\(series.labels)")
            #expect(["prometheus", "node"].contains(series.labels.value(of: "job")), "\(series.labels)")
            #expect(series.labels.value(of: "group") == "lab-1", "\(series.labels)")
            #expect(series.labels.value(of: "replica") == "a", "\(series.labels)")
            #expect(series.labels.validate() == nil)
            #expect(!series.samples.isEmpty)
            // One scrape per second: timestamps within a recording are close to each other.
            #expect(series.samples.allSatisfy { $0.timestamp > 1_700_000_000_000 })
        }
    }

    @Test func recordedBodiesHoldUpAndNodeSeries() throws {
        let decoder = WriteRequestDecoder()
        var names = Set<String>()
        var upValues: [Double] = []
        for name in Fixtures.names(prefix: "prometheus-2.42-agent-") {
            let request = try decoder.decode(try Fixtures.bytes(name), version: .v1).makeWriteRequest()
            for s in request.timeseries {
                let metric = s.labels.value(of: "__name__") ?? ""
                names.insert(metric)
                if metric == "up" { upValues += s.samples.map(\.value) }
            }
        }
        #expect(names.contains("node_cpu_seconds_total"))
        #expect(names.contains("prometheus_build_info"))
        #expect(!upValues.isEmpty && upValues.allSatisfy { $0 == 1 })
    }

    @Test(arguments: Fixtures.names(prefix: "prometheus-2.42-agent-"))
    func reencodesToTheSameRequest(_ name: String) throws {
        let decoder = WriteRequestDecoder()
        let first = try decoder.decode(try Fixtures.bytes(name), version: .v1).makeWriteRequest()
        let encoder = WriteRequestEncoder()
        let second = try decoder.decode(encoder.encode(first), version: .v1).makeWriteRequest()
        #expect(second == first)
        #expect(second.sampleCount == first.sampleCount)
        // The same request through remote write 2.0: symbols table and references.
        let third = try decoder.decode(V2Message(first).encode(), version: .v2).makeWriteRequest()
        #expect(third.timeseries == first.timeseries)
        // libprotobuf-c, the reference, reads the recorded body the same way.
        let reference = WriteRequestDecoder(implementation: .reference)
        #expect(try reference.decode(try Fixtures.bytes(name), version: .v1).makeWriteRequest() == first)
    }
}
