import Testing
import TributaryModel
import TributaryWire

@Suite struct RoundTripTests {
    static let request = WriteRequest(
        timeseries: [
            TimeSeries(
                labels: ["__name__": "http_requests_total", "job": "api", "group": "lab-6", "code": "200"],
                samples: [
                    Sample(timestamp: 1_700_000_000_000, value: 1),
                    Sample(timestamp: 1_700_000_015_000, value: .infinity),
                    Sample(timestamp: 1_700_000_030_000, value: -.infinity),
                    Sample(timestamp: 1_700_000_045_000, value: .nan),
                    Sample(timestamp: 1_700_000_060_000, value: StaleMarker.value),
                    Sample(timestamp: -5, value: 0.5)
                ],
                exemplars: [Exemplar(labels: ["trace_id": "abc123"], value: 0.25, timestamp: 1_700_000_000_001)]
            ),
            TimeSeries(labels: ["__name__": "up", "job": "node", "instance": "host-1:9100"], samples: [Sample(timestamp: 1, value: 1)])
        ],
        metadata: [MetricMetadata(type: .counter, metricFamilyName: "http_requests_total", help: "Requests served.", unit: "")]
    )

    @Test(arguments: [WriteRequestDecoder.Implementation.direct, .reference])
    func v1RoundTripKeepsEverything(_ implementation: WriteRequestDecoder.Implementation) throws {
        let decoder = WriteRequestDecoder(implementation: implementation)
        let body = WriteRequestEncoder().encode(Self.request)
        let decoded = try decoder.decode(body, version: .v1).makeWriteRequest()
        #expect(decoded == Self.request)
        let stale = decoded.timeseries[0].samples[4]
        #expect(stale.isStale)
        #expect(decoded.timeseries[0].samples[3].value.isNaN && !decoded.timeseries[0].samples[3].isStale)
    }

    /// The queue's one-sample-per-series path writes exactly the bytes the general encoder
    /// writes for the same series, long label values and an empty label set included.
    @Test func singlesAreTheSameBytesAsTheGeneralEncoder() throws {
        let long = String(repeating: "v", count: 300)
        let items: [(Labels, Sample)] = [
            (["__name__": "up", "job": "node", "instance": "host-1:9100", "group": "lab-6"], Sample(timestamp: 1_700_000_000_000, value: 1)),
            (["__name__": "x", "long": long, "uml": "ñü"], Sample(timestamp: -5, value: .nan)),
            (Labels.empty, Sample(timestamp: 0, value: StaleMarker.value)),
            (["__name__": "up", "job": "node", "instance": "host-1:9100", "group": "lab-6"], Sample(timestamp: 1_700_000_005_000, value: 0))
        ]
        let encoder = WriteRequestEncoder()
        let general = WriteRequestEncoder().encode(WriteRequest(timeseries: items.map { TimeSeries(labels: $0.0, samples: [$0.1]) }))
        let packed = items.map { encoder.packLabels($0.0) }
        // Twice: the arena is reused between requests.
        for _ in 0..<2 {
            let singles = encoder.encodeSingles(count: items.count) { i in packed[i].withUnsafeBytes { ($0, items[i].1) } }
            #expect(singles == general)
        }
        // The packed labels read back as the labels they were packed from.
        for (labels, bytes) in zip(items.map(\.0), packed) {
            #expect(bytes.withUnsafeBytes { PackedLabels.labels($0) } == labels)
        }
        let decoded = try WriteRequestDecoder().decode(general, version: .v1).makeWriteRequest()
        // The decoder refuses the series without labels; the others read back whole.
        #expect(decoded.timeseries.map(\.labels) == items.map(\.0).filter { $0 != Labels.empty })
    }

    /// libprotobuf-c omits proto3 scalars that equal zero by value, so -0.0 is not written and
    /// reads back as +0.0 (Go's encoder keeps the sign). PromQL does not tell them apart except
    /// through `1/x`; this pins the behaviour so a change is noticed.
    @Test func negativeZeroIsWrittenAsZero() throws {
        let request = WriteRequest(timeseries: [TimeSeries(labels: ["__name__": "z"], samples: [Sample(timestamp: 1, value: -0.0)])])
        let decoded = try WriteRequestDecoder().decode(WriteRequestEncoder().encode(request), version: .v1)
        #expect(decoded.samples.first?.value.bitPattern == 0)
    }

    @Test func v2RoundTripKeepsSeriesExemplarsAndMetadata() throws {
        let decoder = WriteRequestDecoder()
        let message = V2Message(Self.request)
        #expect(message.symbols.first == "")
        let batch = try decoder.decode(message.encode(), version: .v2)
        let decoded = batch.makeWriteRequest()
        #expect(decoded.timeseries == Self.request.timeseries)
        #expect(decoded.metadata == Self.request.metadata)
    }

    @Test func decoderIsReusableAcrossRequests() throws {
        let decoder = WriteRequestDecoder()
        let big = WriteRequestEncoder().encode(Self.request)
        let small = WriteRequestEncoder().encode(WriteRequest(timeseries: [Self.request.timeseries[1]]))
        for _ in 0..<3 {
            #expect(try decoder.decode(big, version: .v1).series.count == 2)
            let batch = try decoder.decode(small, version: .v1)
            #expect(batch.series.count == 1)
            #expect(batch.samples == [Sample(timestamp: 1, value: 1)])
            #expect(batch.metadata.isEmpty)
        }
    }

    @Test func snappyRoundTrip() throws {
        let input = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31 / 7) }
        let compressed = Snappy.compress(input)
        #expect(compressed.count < input.count)
        #expect(try Snappy.decompress(compressed, limit: input.count) == input)
        #expect(throws: WireError.self) { try Snappy.decompress(compressed, limit: input.count - 1) }
    }

    @Test(arguments: [
        ("application/x-protobuf", RemoteWriteVersion.v1),
        ("application/x-protobuf;proto=prometheus.WriteRequest", .v1),
        ("application/x-protobuf; proto=io.prometheus.write.v2.Request", .v2),
        ("Application/X-Protobuf;proto=\"io.prometheus.write.v2.Request\"", .v2)
    ])
    func contentTypes(_ c: (String, RemoteWriteVersion)) {
        #expect(RemoteWriteVersion(contentType: c.0) == c.1)
    }

    @Test(arguments: ["application/json", "text/plain", "application/x-protobuf;proto=foo.Bar", ""])
    func unsupportedContentTypes(_ value: String) {
        #expect(RemoteWriteVersion(contentType: value) == nil)
    }
}
