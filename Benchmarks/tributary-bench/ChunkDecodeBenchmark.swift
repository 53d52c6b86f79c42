import Foundation
import TributaryModel
import TributaryTSDB

/// How fast a block's XOR chunks decode, on one thread: every chunk of the series whose
/// metric name is `metric`, decoded in turn until `seconds` have passed. The figure the
/// PromQL engine pays per sample before any function runs (a 6h range query over 100k
/// series spends about a third of its time here).
enum ChunkDecodeBenchmark {
    static func run(block directory: String, metric: String, seconds: Double) throws {
        let block = try Block(directory: directory)
        let series = try block.querier().selectUnsorted([try Matcher(.equal, "__name__", metric)], start: .min, end: .max)
        var samples: [Sample] = []
        samples.reserveCapacity(4096)
        var total = 0
        for s in series {
            samples.removeAll(keepingCapacity: true)
            s.appendSamples(to: &samples)
            total += samples.count
        }
        print("chunks: \(series.count) series of \(metric), \(total) samples in block \(block.ulid)")
        var decoded = 0
        var checksum = 0.0
        let clock = ContinuousClock()
        let start = clock.now
        while (clock.now - start) < .seconds(seconds) {
            for s in series {
                samples.removeAll(keepingCapacity: true)
                s.appendSamples(to: &samples)
                decoded += samples.count
                checksum += samples.last?.value ?? 0
            }
        }
        let elapsed = clock.now - start
        let secondsTaken = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(String(format: "  %.2f ns/sample, %.1fM samples/s (checksum %g)", secondsTaken * 1e9 / Double(decoded), Double(decoded) / secondsTaken / 1e6, checksum))
    }
}
