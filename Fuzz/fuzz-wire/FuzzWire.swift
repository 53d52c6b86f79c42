import FuzzSupport
import TributaryModel
import TributaryWire

// libFuzzer target for the remote-write decoders. The first input byte picks what the rest is:
//   0: a snappy-compressed 1.0 body   1: an uncompressed 1.0 message   2: an uncompressed 2.0 message
//   3: a snappy-compressed 2.0 body
// For 1.0 the direct decoder and libprotobuf-c (the reference) must agree: same series, samples,
// exemplars and metadata, or both refuse. Any disagreement or crash is a finding.
// Built by scripts/fuzz with -sanitize=fuzzer,address and -D FUZZING; a normal build gives a
// replay tool (see FuzzReplay.swift).

let limits = DecoderLimits(maxUncompressedBytes: 1 << 20, maxSeriesPerRequest: 10_000)
let direct = WriteRequestDecoder(limits: limits, implementation: .direct)
let reference = WriteRequestDecoder(limits: limits, implementation: .reference)

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    guard let mode = data.first else { return }
    let rest = UnsafeRawBufferPointer(rebasing: data.dropFirst())
    switch mode % 4 {
    case 0: compare(rest, compressed: true)
    case 1: compare(rest, compressed: false)
    case 2: _ = try? direct.decodeUncompressed(rest, version: .v2)
    default: _ = try? direct.decode(rest, version: .v2)
    }
}

func compare(_ input: UnsafeRawBufferPointer, compressed: Bool) {
    func run(_ decoder: WriteRequestDecoder) -> Result<WriteBatch, WireError> {
        Result { () throws(WireError) in
            compressed ? try decoder.decode(input, version: .v1) : try decoder.decodeUncompressed(input, version: .v1)
        }
    }
    let a = run(direct), b = run(reference)
    switch (a, b) {
    case (.failure(let x), .failure(let y)):
        // Both refuse. The reference may run out of arena where the direct decoder finds the
        // bytes malformed; the kind of refusal may differ, the refusal itself may not.
        _ = (x, y)
    case (.success(let x), .success(let y)):
        let rx = x.makeWriteRequest(), ry = y.makeWriteRequest()
        if rx == ry, x.rejectedSeries == y.rejectedSeries, x.firstError?.seriesIndex == y.firstError?.seriesIndex,
            x.rejectedHistograms == y.rejectedHistograms, x.histogramCount == y.histogramCount, x.malformedHistograms == y.malformedHistograms,
            x.firstMalformedHistogram == y.firstMalformedHistogram, x.droppedExemplars == y.droppedExemplars,
            x.firstDroppedExemplarSeries == y.firstDroppedExemplarSeries
        {
            return
        }
        if containsNULInStrings(input, compressed: compressed) { return }
        fatalError(
            "decoders disagree: \(difference(rx, ry)); histograms \(x.histogramCount)/\(x.malformedHistograms)/\(String(describing: x.firstMalformedHistogram)) vs \(y.histogramCount)/\(y.malformedHistograms)/\(String(describing: y.firstMalformedHistogram)); rejected \(x.rejectedSeries) vs \(y.rejectedSeries); first errors \(String(describing: x.firstError)) vs \(String(describing: y.firstError))")
    case (.success(let x), .failure(let y)):
        if y.code == .bodyTooLarge { return }  // the reference's arena is bounded, the direct decoder needs none
        fatalError("direct accepted (\(x.series.count) series) what the reference refused: \(y)")
    case (.failure(let x), .success(let y)):
        fatalError("direct refused what the reference accepted (\(y.series.count) series): \(x)")
    }
}

/// The first place two decoded requests differ, briefly.
func difference(_ a: WriteRequest, _ b: WriteRequest) -> String {
    if a.timeseries.count != b.timeseries.count { return "series \(a.timeseries.count) vs \(b.timeseries.count)" }
    for (i, (x, y)) in zip(a.timeseries, b.timeseries).enumerated() where x != y {
        return "series \(i): \(x.labels) \(x.samples.count) samples vs \(y.labels) \(y.samples.count) samples"
    }
    if a.metadata.count != b.metadata.count { return "metadata \(a.metadata.count) vs \(b.metadata.count)" }
    for (i, (x, y)) in zip(a.metadata, b.metadata).enumerated() where x != y { return "metadata \(i): \(x) vs \(y)" }
    return "equal requests"
}

/// True when a label, exemplar-label or metadata string holds a NUL byte. libprotobuf-c hands
/// strings over NUL-terminated, so it reads such a string only up to the NUL; the direct
/// decoder sees all of it. That difference is known and allowed.
func containsNULInStrings(_ input: UnsafeRawBufferPointer, compressed: Bool) -> Bool {
    var message = Array(input)
    if compressed {
        guard let m = try? Snappy.decompress(Array(input), limit: 1 << 20) else { return false }
        message = m
    }
    return message.withUnsafeBytes { raw in
        walk(
            ProtoReader(raw), strings: [],
            messages: [
                1: { ts in
                    walk(
                        ts, strings: [],
                        messages: [
                            1: { label in walk(label, strings: [1, 2], messages: [:]) },
                            3: { ex in walk(ex, strings: [], messages: [1: { label in walk(label, strings: [1, 2], messages: [:]) }]) }
                        ])
                },
                3: { metadata in walk(metadata, strings: [2, 4, 5], messages: [:]) }
            ])
    }
}

/// Walks one message level: true if a string field in `strings` holds a NUL, or a nested
/// message in `messages` does. Stops quietly at malformed bytes.
func walk(_ reader: ProtoReader, strings: Set<UInt64>, messages: [UInt64: (ProtoReader) -> Bool]) -> Bool {
    var r = reader
    while !r.atEnd {
        guard let key = r.key() else { return false }
        let field = key >> 3
        if key & 7 == 2 {
            guard let range = r.lengthDelimited() else { return false }
            if strings.contains(field), r.bytes(range).contains(0) { return true }
            if let nested = messages[field], nested(r.sub(range)) { return true }
        } else if !r.skip(wireType: key & 7) {
            return false
        }
    }
    return false
}

#if FUZZING
    @_cdecl("fuzz_wire_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        runFuzzer(argc, argv, fuzzOne)
    }
#endif
