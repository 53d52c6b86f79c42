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
        let (ns, checksum) = measure(seconds: seconds) {
            var decoded = 0
            var checksum = 0.0
            for s in series {
                samples.removeAll(keepingCapacity: true)
                s.appendSamples(to: &samples)
                decoded += samples.count
                checksum += samples.last?.value ?? 0
            }
            return (decoded, checksum)
        }
        print(String(format: "  %.2f ns/sample, %.1fM samples/s (checksum %g)", ns, 1e3 / ns, checksum))
        decodeOnly(series, seconds: seconds)
    }

    /// Repeats `pass` (one pass over everything: the samples it decoded, and a sum that keeps
    /// the work from being optimised away) until `seconds` have passed.
    static func measure(seconds: Double, _ pass: () -> (samples: Int, checksum: Double)) -> (nsPerSample: Double, checksum: Double) {
        var decoded = 0
        var checksum = 0.0
        let clock = ContinuousClock()
        let start = clock.now
        while (clock.now - start) < .seconds(seconds) {
            let (n, sum) = pass()
            decoded += n
            checksum += sum
        }
        let elapsed = clock.now - start
        let secondsTaken = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return (secondsTaken * 1e9 / Double(max(decoded, 1)), checksum)
    }

    /// The decoder alone: the same samples written again into chunks of 120 in memory (no
    /// block reads, no checksums), each decoded in turn.
    /// Also with every timestamp moved by up to ±5 ms (`jitter`), as scrapes land where a
    /// scraper does not align them: the delta of delta is then rarely 0.
    static func decodeOnly(_ series: [QueriedSeries], seconds: Double) {
        decodeOnly(series, seconds: seconds, jitter: 0)
        decodeOnly(series, seconds: seconds, jitter: 5)
    }

    static func decodeOnly(_ series: [QueriedSeries], seconds: Double, jitter: Int64) {
        var chunks: [[UInt8]] = []
        var samples: [Sample] = []
        var random = SystemRandomNumberGenerator()
        for s in series {
            samples.removeAll(keepingCapacity: true)
            s.appendSamples(to: &samples)
            var i = 0
            while i < samples.count {
                var chunk = XORChunk()
                for sample in samples[i..<min(i + 120, samples.count)] {
                    chunk.append(sample.timestamp + (jitter > 0 ? Int64.random(in: -jitter...jitter, using: &random) : 0), sample.value)
                }
                chunks.append(chunk.bytes)
                i += 120
            }
        }
        let (ns, checksum) = measure(seconds: seconds) {
            var decoded = 0
            var checksum = 0.0
            for c in chunks {
                samples.removeAll(keepingCapacity: true)
                XORChunk.decode(c, into: &samples)
                decoded += samples.count
                checksum += samples.last?.value ?? 0
            }
            return (decoded, checksum)
        }
        print(String(format: "  decoder alone (%d chunks of up to 120, timestamps ±%d ms): %.2f ns/sample (checksum %g)", chunks.count, jitter, ns, checksum))
    }
}
