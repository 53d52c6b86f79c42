import Testing
import TributaryModel
import TributaryWire

/// Every kind of bad body answered with the right error, naming the series and rule.
@Suite struct BadBodyTests {
    static let good = WriteRequest(timeseries: [
        TimeSeries(labels: ["__name__": "up", "job": "node", "instance": "a:9100"], samples: [Sample(timestamp: 1000, value: 1)]),
        TimeSeries(labels: ["__name__": "up", "job": "node", "instance": "b:9100"], samples: [Sample(timestamp: 1000, value: 0)])
    ])

    static func body(_ request: WriteRequest) -> [UInt8] { WriteRequestEncoder().encode(request) }

    /// The error both implementations give; they must agree on the code.
    static func decodeError(
        _ body: [UInt8], _ version: RemoteWriteVersion = .v1, limits: DecoderLimits = .default,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> WireError? {
        func attempt(_ implementation: WriteRequestDecoder.Implementation) -> WireError? {
            do {
                _ = try WriteRequestDecoder(limits: limits, implementation: implementation).decode(body, version: version)
                return nil
            } catch {
                return error
            }
        }
        let direct = attempt(.direct), reference = attempt(.reference)
        #expect(
            direct?.code == reference?.code, "direct: \(String(describing: direct)), reference: \(String(describing: reference))",
            sourceLocation: sourceLocation)
        return direct
    }

    // MARK: whole-body failures

    @Test func garbage() {
        let e = Self.decodeError(Array("this is not snappy at all, just text".utf8))
        #expect(e?.code == .snappyCorrupt || e?.code == .bodyTooLarge, "\(String(describing: e))")
        #expect(Self.decodeError([])?.code == .snappyCorrupt)
        #expect(Self.decodeError([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])?.code == .snappyCorrupt)
    }

    @Test func truncatedSnappy() {
        let full = Self.body(Self.good)
        for cut in [1, full.count / 2, full.count - 1] {
            let e = Self.decodeError(Array(full.prefix(cut)))
            #expect(e?.code == .snappyCorrupt, "cut at \(cut): \(String(describing: e))")
        }
    }

    @Test func framedSnappy() {
        // Stream identifier chunk, then an uncompressed data chunk (type 0x01).
        var framed: [UInt8] = [0xFF, 0x06, 0x00, 0x00, 0x73, 0x4E, 0x61, 0x50, 0x70, 0x59]
        framed += [0x01, 0x08, 0x00, 0x00, 0, 0, 0, 0, 0x0A, 0x00, 0x00, 0x00]
        let e = Self.decodeError(framed)
        #expect(e?.code == .snappyFramed)
        #expect(e?.message.contains("framed") == true)
    }

    @Test func declaredLengthOverLimit() {
        // A header declaring 1 GiB followed by nothing: refused before any allocation.
        let e = Self.decodeError([0x80, 0x80, 0x80, 0x80, 0x04, 0x00])
        #expect(e?.code == .bodyTooLarge, "\(String(describing: e))")
        let small = DecoderLimits(maxUncompressedBytes: 16)
        let e2 = Self.decodeError(Self.body(Self.good), limits: small)
        #expect(e2?.code == .bodyTooLarge)
        #expect(e2?.message.contains("limit of 16") == true)
    }

    @Test func truncatedProtobuf() {
        let raw = WriteRequestEncoder().encodeUncompressed(Self.good)
        for cut in [1, raw.count / 2, raw.count - 1] {
            let e = Self.decodeError(Snappy.compress(Array(raw.prefix(cut))))
            #expect(e?.code == .protobufMalformed, "cut at \(cut): \(String(describing: e))")
        }
        // A nested message cut short while the outer framing is intact.
        var nested = raw
        nested[3] = 0xFF
        #expect(Self.decodeError(Snappy.compress(nested))?.code == .protobufMalformed)
    }

    @Test func tooManySeries() {
        let e = Self.decodeError(Self.body(Self.good), limits: DecoderLimits(maxSeriesPerRequest: 1))
        #expect(e?.code == .tooManySeries)
        #expect(e?.message.contains("2 series") == true)
    }

    // MARK: per-series failures: the bad series is refused, the good ones kept

    static let seriesCases: [(String, [(String, String)], LabelViolation.Rule, String)] = [
        ("unsorted labels", [("__name__", "up"), ("job", "x"), ("instance", "y")], .notSorted, "instance"),
        ("duplicate label names", [("__name__", "up"), ("job", "x"), ("job", "y")], .duplicateName, "job"),
        ("empty label name", [("", "x"), ("__name__", "up")], .emptyName, ""),
        ("empty label value", [("__name__", "up"), ("job", "")], .emptyValue, "job"),
        ("no metric name", [("instance", "a"), ("job", "x")], .missingMetricName, ""),
        ("no labels", [], .emptyLabelSet, "")
    ]

    @Test(arguments: seriesCases, [WriteRequestDecoder.Implementation.direct, .reference])
    func invalidSeriesV1(_ c: (String, [(String, String)], LabelViolation.Rule, String), _ implementation: WriteRequestDecoder.Implementation) throws {
        var request = Self.good
        request.timeseries.insert(
            TimeSeries(labels: Labels(sortedPairs: c.1.map { (name: $0.0, value: $0.1) }), samples: [Sample(timestamp: 5, value: 5)]),
            at: 1
        )
        let batch = try WriteRequestDecoder(implementation: implementation).decode(Self.body(request), version: .v1)
        try Self.expectRefusedSecond(batch, rule: c.2, label: c.3, name: c.0)
    }

    @Test(arguments: seriesCases)
    func invalidSeriesV2(_ c: (String, [(String, String)], LabelViolation.Rule, String)) throws {
        var request = Self.good
        request.timeseries.insert(
            TimeSeries(labels: Labels(sortedPairs: c.1.map { (name: $0.0, value: $0.1) }), samples: [Sample(timestamp: 5, value: 5)]),
            at: 1
        )
        let batch = try WriteRequestDecoder().decode(V2Message(request).encode(), version: .v2)
        try Self.expectRefusedSecond(batch, rule: c.2, label: c.3, name: c.0)
    }

    static func expectRefusedSecond(
        _ batch: WriteBatch, rule: LabelViolation.Rule, label: String, name: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(batch.series.count == 2, "\(name): the two valid series are kept", sourceLocation: sourceLocation)
        #expect(batch.samples.map(\.value) == [1, 0], sourceLocation: sourceLocation)
        #expect(batch.rejectedSeries == 1, sourceLocation: sourceLocation)
        #expect(batch.rejectedSamples == 1, sourceLocation: sourceLocation)
        let error = try #require(batch.firstError, sourceLocation: sourceLocation)
        #expect(error.code == .invalidSeries, sourceLocation: sourceLocation)
        #expect(error.seriesIndex == 1, sourceLocation: sourceLocation)
        #expect(error.message.hasPrefix("cannot decode timeseries 1 "), "\(error.message)", sourceLocation: sourceLocation)
        #expect(error.message.contains(rule.rawValue), "\(name): \(error.message)", sourceLocation: sourceLocation)
        if !label.isEmpty {
            #expect(error.labelName == label, "\(name): \(error.message)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [WriteRequestDecoder.Implementation.direct, .reference])
    func labelLimitsRefuseSeries(_ implementation: WriteRequestDecoder.Implementation) throws {
        let limits = DecoderLimits(labels: LabelLimits(maxLabelsPerSeries: 2))
        let batch = try WriteRequestDecoder(limits: limits, implementation: implementation).decode(Self.body(Self.good), version: .v1)
        #expect(batch.series.isEmpty)
        #expect(batch.rejectedSeries == 2)
        #expect(batch.firstError?.message.contains("too many labels") == true)
    }

    // MARK: remote write 2.0 references

    @Test func v2LabelsRefsOutOfRange() throws {
        let message = V2Message(
            symbols: ["", "__name__", "up"],
            timeseries: [
                .init(labelsRefs: [1, 2], samples: [Sample(timestamp: 1, value: 1)]),
                .init(labelsRefs: [1, 7], samples: [Sample(timestamp: 1, value: 2)])
            ])
        let batch = try WriteRequestDecoder().decode(message.encode(), version: .v2)
        #expect(batch.series.count == 1)
        #expect(batch.rejectedSeries == 1)
        let error = try #require(batch.firstError)
        #expect(error.seriesIndex == 1)
        #expect(error.message.contains("labels_refs[1] = 7 is out of range (3 symbols)"), "\(error.message)")
    }

    @Test func v2LabelsRefsOddCount() throws {
        let message = V2Message(
            symbols: ["", "__name__", "up"],
            timeseries: [
                .init(labelsRefs: [1, 2, 1], samples: [Sample(timestamp: 1, value: 1)])
            ])
        let batch = try WriteRequestDecoder().decode(message.encode(), version: .v2)
        #expect(batch.series.isEmpty)
        #expect(batch.firstError?.message.contains("odd number (3)") == true, "\(String(describing: batch.firstError))")
    }

    @Test func v2FirstSymbolMustBeEmpty() {
        let message = V2Message(symbols: ["x", "__name__", "up"], timeseries: [.init(labelsRefs: [1, 2])])
        let e = Self.decodeError(message.encode(), .v2)
        #expect(e?.code == .invalidSymbols)
        #expect(e?.message.contains("symbols[0] must be the empty string") == true)
    }

    @Test func v2MetadataRefsOutOfRange() throws {
        let message = V2Message(
            symbols: ["", "__name__", "up"],
            timeseries: [
                .init(labelsRefs: [1, 2], samples: [Sample(timestamp: 1, value: 1)], metadata: (.gauge, 9, 0))
            ])
        let batch = try WriteRequestDecoder().decode(message.encode(), version: .v2)
        #expect(batch.series.isEmpty)
        #expect(batch.firstError?.message.contains("help_ref 9") == true)
    }

    @Test func v1BodyDecodedAsV2IsRefused() {
        // A 1.0 body sent with the 2.0 content type: its field numbers mean nothing in 2.0, so
        // the decoder finds no series and symbols; it must not crash or invent data.
        let body = Self.body(Self.good)
        if let batch = try? WriteRequestDecoder().decode(body, version: .v2) {
            #expect(batch.series.isEmpty)
        }
    }

    @Test func v2SymbolReuseCannotBlowUpLabels() {
        // 2,000 series each naming the same 4 KiB value: a small message, 8 MB of labels.
        let big = String(repeating: "v", count: 4000)
        let series = (0..<2_000).map { _ in V2Message.Series(labelsRefs: [1, 2, 3, 4], samples: [Sample(timestamp: 1, value: 1)]) }
        let message = V2Message(symbols: ["", "__name__", "up", "blob", big], timeseries: series)
        let limits = DecoderLimits(maxDecodedLabelBytes: 1 << 20)
        let e = Self.decodeError(message.encode(), .v2, limits: limits)
        #expect(e?.code == .bodyTooLarge)
        #expect(e?.message.contains("more than 1048576 bytes") == true, "\(String(describing: e))")
    }

    @Test(arguments: [WriteRequestDecoder.Implementation.direct, .reference])
    func overlongExemplarsAreCountedSamplesKept(_ implementation: WriteRequestDecoder.Implementation) throws {
        let long = String(repeating: "t", count: 200)
        let request = WriteRequest(timeseries: [
            TimeSeries(
                labels: ["__name__": "req_total"], samples: [Sample(timestamp: 1, value: 1)],
                exemplars: [Exemplar(labels: ["trace_id": long], value: 1, timestamp: 1), Exemplar(labels: ["trace_id": "ok"], value: 2, timestamp: 2)]
            )
        ])
        let batch = try WriteRequestDecoder(implementation: implementation).decode(Self.body(request), version: .v1)
        #expect(batch.series.count == 1)
        #expect(batch.samples.count == 1)
        #expect(batch.droppedExemplars == 1)
        #expect(batch.makeWriteRequest().timeseries[0].exemplars.map(\.value) == [2])
        let v2 = try WriteRequestDecoder().decode(V2Message(request).encode(), version: .v2)
        #expect(v2.droppedExemplars == 1)
        #expect(v2.makeWriteRequest().timeseries[0].exemplars.map(\.value) == [2])
    }
}
