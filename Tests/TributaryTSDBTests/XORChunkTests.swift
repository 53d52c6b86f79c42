import Testing
import TributaryModel

@testable import TributaryTSDB

@Suite struct XORChunkTests {
    /// The chunks of Prometheus's chunk segment file: magic 0x85BD40DD, version, 3 padding
    /// bytes, then per chunk uvarint length, encoding byte, data, CRC32.
    static func promtoolChunks() throws -> [[UInt8]] {
        let file = try Fixtures.bytes("promtool-xor/000001")
        #expect(Array(file[0..<4]) == [0x85, 0xBD, 0x40, 0xDD])
        var offset = 8
        var chunks: [[UInt8]] = []
        while offset < file.count {
            var length = 0, shift = 0
            while true {
                let b = file[offset]; offset += 1
                length |= Int(b & 0x7F) << shift
                if b < 0x80 { break }
                shift += 7
            }
            #expect(file[offset] == 1, "XOR encoding")
            offset += 1
            chunks.append(Array(file[offset..<(offset + length)]))
            offset += length + 4
        }
        return chunks
    }

    static func promtoolSamples() throws -> [Sample] {
        try Fixtures.text("promtool-xor/dump.txt").split(separator: "\n").map { line in
            let parts = line.split(separator: " ")
            return Sample(timestamp: Int64(parts[2])!, value: Double(parts[1])!)
        }
    }

    @Test func encodesBitForBitAsPrometheus() throws {
        let expected = try Self.promtoolChunks()
        let samples = try Self.promtoolSamples()
        #expect(samples.count == 110)
        #expect(expected.count == 2, "the 10-minute gap makes Prometheus cut early")
        var nextAt = Int64.min
        let range: Int64 = 2 * 3600 * 1000
        var chunks: [XORChunk] = [XORChunk()]
        var minTime: Int64 = 0
        for s in samples {
            let current = chunks[chunks.count - 1]
            if current.count == 0 { minTime = s.timestamp }
            if ChunkCutter.mustCut(at: s.timestamp, count: current.count, minTime: minTime, maxTime: current.maxTime, range: range, nextAt: &nextAt) {
                chunks.append(XORChunk())
                minTime = s.timestamp
                _ = ChunkCutter.mustCut(at: s.timestamp, count: 0, minTime: minTime, maxTime: minTime, range: range, nextAt: &nextAt)
            }
            chunks[chunks.count - 1].append(s.timestamp, s.value)
        }
        #expect(chunks.map(\.bytes) == expected)
    }

    @Test func decodesPrometheusChunks() throws {
        let samples = try Self.promtoolSamples()
        var decoded: [Sample] = []
        for bytes in try Self.promtoolChunks() {
            var it = XORIterator(bytes: bytes)
            while let s = it.next() { decoded.append(s) }
            #expect(!it.isCorrupt)
        }
        #expect(decoded == samples)
    }

    static let specialValues: [Double] = [
        .nan, StaleMarker.value, .infinity, -.infinity, 0, -0.0, .greatestFiniteMagnitude, .leastNonzeroMagnitude, 1, 1, 1
    ]

    /// Up to 240 samples of every kind the encoding distinguishes: steady and jittered
    /// intervals, tiny and 64-bit timestamp jumps, repeats, special and random values.
    static func randomSamples(seed: Int) -> [Sample] {
        var rng = SplitMix(seed: UInt64(seed))
        var samples: [Sample] = []
        var t = Int64(bitPattern: rng.next() % 2_000_000_000_000) - 1_000_000_000_000
        var v = 0.0
        for _ in 0..<(1 + Int(rng.next() % 240)) {
            switch rng.next() % 6 {
            case 0: t += 15_000
            case 1: t += Int64(rng.next() % 100) + 1
            case 2: t += Int64(rng.next() % (1 << 40)) + 1  // huge jump: 64-bit delta of delta
            default: t += 15_000 + Int64(rng.next() % 2000)
            }
            switch rng.next() % 5 {
            case 0: v = Self.specialValues[Int(rng.next() % UInt64(Self.specialValues.count))]
            case 1: break  // repeat
            case 2: v = Double(bitPattern: rng.next())
            default: v += Double(rng.next() % 1000) / 8
            }
            samples.append(Sample(timestamp: t, value: v))
        }
        return samples
    }

    @Test(arguments: 0..<50)
    func randomRoundTrip(seed: Int) {
        var chunk = XORChunk()
        let expected = Self.randomSamples(seed: seed)
        for s in expected { chunk.append(s.timestamp, s.value) }
        var it = chunk.makeIterator()
        var got: [Sample] = []
        while let s = it.next() { got.append(s) }
        #expect(got == expected)
        #expect(chunk.count == expected.count)
        // The bulk decoder agrees with the iterator, also on sub-ranges.
        var bulk: [Sample] = []
        #expect(XORChunk.decode(chunk.bytes, into: &bulk))
        #expect(bulk == expected)
        if let mid = expected.dropFirst(expected.count / 3).first?.timestamp, let last = expected.last?.timestamp {
            var part: [Sample] = []
            XORChunk.decode(chunk.bytes, from: mid, to: last - 1, into: &part)
            #expect(part == expected.filter { $0.timestamp >= mid && $0.timestamp <= last - 1 })
        }
    }

    /// Decoding from a resume point before a time reads exactly the samples a decode from the
    /// first sample reads, at every length the chunk passes through (points are replaced as
    /// it grows) and for every start (each timestamp, and just after it); points found by
    /// encoding a chunk's samples again are those its appender gave.
    @Test(arguments: 0..<50)
    func resumePointsReadWhatAWholeDecodeReads(seed: Int) {
        let samples = Self.randomSamples(seed: seed)
        var chunk = XORChunk()
        var points = ResumePoints()
        var resumed = 0
        for (n, s) in samples.enumerated() {
            chunk.append(s.timestamp, s.value)
            if chunk.count % XORChunk.resumeEvery == 0, let p = chunk.resumeAtEnd { points.record(p) }
            guard n % 5 == 4 || n == samples.count - 1 else { continue }
            #expect(XORChunk.resumePoints(of: chunk.bytes) == points, "seed \(seed), \(n + 1) samples: points found again")
            let written = samples[...n]
            for start in written.flatMap({ [$0.timestamp, $0.timestamp + 1] }) {
                let point = points.best(before: start)
                if let point {
                    #expect(point.index >= 2 && point.t < start)
                    resumed += 1
                }
                var got: [Sample] = []
                #expect(XORChunk.decode(chunk.bytes, from: start, resumingAt: point, into: &got))
                #expect(got == written.filter { $0.timestamp >= start }, "seed \(seed), \(n + 1) samples, from \(start)")
            }
        }
        if samples.count > 40 { #expect(resumed > 0, "a chunk of \(samples.count) samples had resume points") }
    }

    @Test func deltaOfDeltaWidthsAtTheirEdgesDecodeInBothReaders() {
        // Each width's edges, Prometheus's sign rule (half the range is positive) included,
        // repeated so that most fall in the bulk decoder's unchecked part (whole samples ahead).
        let edges: [Int64] = [
            0, 1, -1, 8191, -8191, 8192, -8192, 8193, -8193, 65535, -65535, 65536, -65536, 65537, 524_287, -524_287, 524_288, -524_288,
            524_289, -524_289, 1 << 40, -(1 << 40)
        ]
        var chunk = XORChunk()
        var expected: [Sample] = []
        var t: Int64 = 1_700_000_000_000, delta: Int64 = 15_000, v = 1.0
        for round in 0..<6 {
            for (k, dod) in edges.enumerated() {
                delta += dod
                t += delta
                // Unchanged, a new window, the previous window again, a full 64-bit XOR.
                switch (round + k) % 4 {
                case 0: break
                case 1: v += 0.25
                case 2: v += 0.5
                default: v = -v * 1e300
                }
                chunk.append(t, v)
                expected.append(Sample(timestamp: t, value: v))
            }
        }
        var bulk: [Sample] = []
        #expect(XORChunk.decode(chunk.bytes, into: &bulk))
        #expect(bulk == expected)
        var it = chunk.makeIterator()
        var viaIterator: [Sample] = []
        while let s = it.next() { viaIterator.append(s) }
        #expect(viaIterator == expected)
    }

    @Test func seekFindsFirstSampleAtOrAfter() {
        var chunk = XORChunk()
        for i in 0..<100 { chunk.append(Int64(i) * 1000, Double(i)) }
        var it = chunk.makeIterator()
        #expect(it.seek(41_500)?.timestamp == 42_000)
        #expect(it.seek(10_000)?.timestamp == 42_000, "seek never goes back")
        #expect(it.next()?.timestamp == 43_000)
        #expect(it.seek(1_000_000) == nil)
    }

    @Test func truncatedOrGarbageChunksEndWithoutTrapping() {
        var chunk = XORChunk()
        for i in 0..<120 { chunk.append(Int64(i) * 15_000 + Int64(i % 3), Double(i) * 1.1) }
        let bytes = chunk.bytes
        for cut in [0, 1, 2, 3, 10, bytes.count / 2, bytes.count - 1] {
            var it = XORIterator(bytes: Array(bytes.prefix(cut)))
            var n = 0
            while it.next() != nil { n += 1 }
            #expect(n < 120)
        }
        var rng = SplitMix(seed: 99)
        for _ in 0..<200 {
            var garbage = (0..<64).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            garbage[0] = 0xFF
            var it = XORIterator(bytes: garbage)
            var viaIterator: [Sample] = []
            while let s = it.next() { viaIterator.append(s) }
            var bulk: [Sample] = []
            XORChunk.decode(garbage, into: &bulk)
            #expect(bulk == viaIterator, "both decoders stop at the same malformed bit")
        }
        // Every prefix: the bulk decoder's last bytes are read from a zero-padded copy, and a
        // sample whose bits run past the cut is refused there as the iterator refuses it.
        for cut in 0..<bytes.count {
            let prefix = Array(bytes.prefix(cut))
            var it = XORIterator(bytes: prefix)
            var viaIterator: [Sample] = []
            while let s = it.next() { viaIterator.append(s) }
            var bulk: [Sample] = []
            let complete = XORChunk.decode(prefix, into: &bulk)
            #expect(bulk == viaIterator, "cut at \(cut) of \(bytes.count) bytes")
            #expect(bulk.count < 120)
            #expect(!complete || cut < 2, "cut at \(cut) reported as a whole chunk")
        }
    }
}

/// A small deterministic generator for tests.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
