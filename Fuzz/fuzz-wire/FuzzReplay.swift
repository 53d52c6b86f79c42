#if !FUZZING
    import Foundation
    import FuzzSupport
    import TributaryModel
    import TributaryWire

    /// Without libFuzzer: `fuzz-wire seeds DIR` writes a seed corpus (recorded fixtures and encoded
    /// requests in every mode); `fuzz-wire FILE…` replays inputs, e.g. a crash file.
    @main
    struct FuzzReplay {
        static func main() throws {
            try replay(
                seeds: { try writeSeeds(to: $0) },
                extra: { args in
                    guard args.first == "unsnappy", args.count == 3 else { return false }
                    // Writes the uncompressed message of a mode-0 input, for reading with a protobuf tool.
                    let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: args[1])))
                    try Data(try Snappy.decompress(Array(bytes.dropFirst()), limit: 1 << 24)).write(to: URL(fileURLWithPath: args[2]))
                    return true
                }, fuzzOne)
        }

        static func writeSeeds(to folder: URL) throws -> Int {
            var n = 0
            func put(_ mode: UInt8, _ body: [UInt8]) throws {
                try Data([mode] + body).write(to: folder.appendingPathComponent(String(format: "seed-%03d", n)))
                n += 1
            }
            let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../Tests/TributaryWireTests/Fixtures").standardized
            for name in try FileManager.default.contentsOfDirectory(atPath: fixtures.path).sorted() where name.hasSuffix(".bin") {
                let body = Array(try Data(contentsOf: fixtures.appendingPathComponent(name)))
                try put(0, body)
                try put(1, try Snappy.decompress(body, limit: 1 << 24))
            }
            let request = WriteRequest(
                timeseries: [
                    TimeSeries(
                        labels: ["__name__": "up", "job": "node", "instance": "a:9100"], samples: [Sample(timestamp: 1, value: 1)],
                        exemplars: [Exemplar(labels: ["trace_id": "t1"], value: 2, timestamp: 3)]),
                    TimeSeries(labels: Labels(sortedPairs: [("job", "x"), ("a", "y")]), samples: [Sample(timestamp: 2, value: StaleMarker.value)])
                ],
                metadata: [MetricMetadata(type: .gauge, metricFamilyName: "up", help: "Up.", unit: "")]
            )
            let encoder = WriteRequestEncoder()
            try put(0, encoder.encode(request))
            try put(1, encoder.encodeUncompressed(request))
            try put(2, V2Message(request).encodeUncompressed())
            try put(3, V2Message(request).encode())
            try put(2, V2Message(symbols: ["", "__name__", "up"], timeseries: [.init(labelsRefs: [1, 2, 9], samples: [Sample(timestamp: 1, value: 1)])]).encodeUncompressed())
            // A 1.0 series with an integer native histogram (count 3, one span of two buckets,
            // deltas 1, 1), and one whose count disagrees: the histogram checks get explored.
            for count: UInt8 in [3, 7] {
                let span: [UInt8] = [0x08, 0x00, 0x10, 0x02]
                let histogram: [UInt8] = [0x08, count, 0x20, 0x00, 0x5A, UInt8(span.count)] + span + [0x62, 0x02, 0x02, 0x02, 0x78, 0x05]
                let label: [UInt8] = [0x0A, 0x08] + Array("__name__".utf8) + [0x12, 0x03] + Array("rpc".utf8)
                let series: [UInt8] = [0x0A, UInt8(label.count)] + label + [0x22, UInt8(histogram.count)] + histogram
                try put(1, [0x0A, UInt8(series.count)] + series)
            }
            return n
        }
    }
#endif
