import Foundation
import Testing
import TributaryModel

@testable import TributaryWAL

@Suite struct WALTests {
    func tempDir() -> String {
        let path = NSTemporaryDirectory() + "tributary-wal-" + UUID().uuidString
        return path
    }

    func records(_ n: Int, from: Int = 0) -> [UInt8] {
        var buffer: [UInt8] = []
        RecordCodec.appendSeries(ids: [UInt32(from)], labels: [["__name__": "m", "i": "\(from)"]], to: &buffer)
        RecordCodec.appendSamples(
            ids: Array(repeating: UInt32(from), count: n),
            samples: (0..<n).map { Sample(timestamp: Int64(from * 1000 + $0), value: Double($0)) }, to: &buffer)
        return buffer
    }

    func replayAll(_ dir: String) throws -> (series: [UInt32: Labels], samples: [Sample], stats: ReplayStats) {
        let wal = try WAL(directory: dir)
        var series: [UInt32: Labels] = [:]
        var samples: [Sample] = []
        let stats = try wal.replay { kind, payload in
            switch kind {
            case .series: _ = RecordCodec.decodeSeries(payload) { id, l in series[id] = Labels(l) }
            case .samples: _ = RecordCodec.decodeSamples(payload) { _, s in samples.append(s) }
            case .exemplars, .deletions: Issue.record("no \(kind) were logged")
            }
        }
        return (series, samples, stats)
    }

    @Test func writesAndReplaysAcrossSegments() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let wal = try WAL(directory: dir, options: .init(segmentSize: 4096, fsync: .always))
            for i in 0..<50 { try wal.log(records(20, from: i)) }
            #expect(try wal.segments().count > 3)
        }
        let (series, samples, stats) = try replayAll(dir)
        #expect(series.count == 50)
        #expect(series[7] == ["__name__": "m", "i": "7"])
        #expect(samples.count == 1000)
        #expect(stats.records == 100)
        #expect(stats.repairedAt == nil)
    }

    @Test func tornTailIsTruncatedAndLoggingContinues() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let wal = try WAL(directory: dir)
            for i in 0..<10 { try wal.log(records(5, from: i)) }
        }
        let segment = WAL.path(dir, 0)
        let size = try FileManager.default.attributesOfItem(atPath: segment)[.size] as! Int
        // Cut the last record in half, as a crash in the middle of write(2) would.
        #expect(truncate(segment, off_t(size - 40)) == 0)
        let (series, samples, stats) = try replayAll(dir)
        #expect(series.count == 10)
        #expect(samples.count == 45, "the torn samples record of series 9 is gone, the rest kept")
        #expect(stats.repairedAt?.segment == 0)
        // The log was cut at the torn record; new records follow valid ones.
        do {
            let wal = try WAL(directory: dir)
            try wal.log(records(3, from: 42))
        }
        let again = try replayAll(dir)
        #expect(again.samples.count == 48)
        #expect(again.stats.repairedAt == nil)
    }

    @Test(arguments: [0, 3, 9, 200, 777])
    func flippedByteKeepsEverythingBefore(_ position: Int) throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var offsets: [Int] = []
        do {
            let wal = try WAL(directory: dir, options: .init(segmentSize: 1 << 20, fsync: .batch))
            var total = 0
            for i in 0..<20 {
                let r = records(4, from: i)
                try wal.log(r)
                total += r.count
                offsets.append(total)
            }
            try wal.sync()
        }
        let segment = WAL.path(dir, 0)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: segment))
        bytes[position] ^= 0x5A
        try bytes.write(to: URL(fileURLWithPath: segment))
        let (_, samples, stats) = try replayAll(dir)
        let intact = offsets.filter { $0 <= position }.count  // commits entirely before the damage
        #expect(samples.count >= intact * 4)
        #expect(samples.count < 80)
        #expect(stats.repairedAt?.segment == 0)
    }

    @Test func damageInAnEarlierSegmentMovesLaterOnesAside() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let wal = try WAL(directory: dir, options: .init(segmentSize: 2048, fsync: .batch))
            for i in 0..<40 { try wal.log(records(10, from: i)) }
        }
        let first = WAL.path(dir, 0)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: first))
        bytes[bytes.count - 3] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: first))
        let (_, _, stats) = try replayAll(dir)
        #expect(stats.repairedAt?.segment == 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(names.contains { $0.hasSuffix(".corrupt") })
        #expect(try WAL(directory: dir).segments() == [0])
    }

    @Test func crc32cKnownValue() {
        // RFC 3720 (iSCSI) test vectors.
        let zeros = [UInt8](repeating: 0, count: 32)
        #expect(zeros.withUnsafeBytes { tributaryCRC32C($0) } == 0x8A91_36AA)
        let ascending = (0..<32).map { UInt8($0) }
        #expect(ascending.withUnsafeBytes { tributaryCRC32C($0) } == 0x46DD_794E)
    }
}
