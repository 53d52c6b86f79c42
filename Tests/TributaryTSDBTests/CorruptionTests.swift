import Foundation
import Testing
import TributaryModel
import TributaryTSDB
import TributaryWAL

/// Damage in the last WAL segment: the head still opens and keeps everything before it.
@Suite struct CorruptionTests {
    func write(_ dir: String, batches: Int) throws {
        let wal = try WAL(directory: dir + "/wal", options: .init(segmentSize: 1 << 20, fsync: .batch))
        let head = Head(wal: wal)
        for b in 0..<batches {
            _ = try head.commit { batch in
                for i in 0..<10 { _ = batch.append(["__name__": "c", "i": "\(i)"], Sample(timestamp: Int64(b) * 1000, value: Double(b))) }
            }
        }
        try wal.sync()
    }

    func reopen(_ dir: String) throws -> (Head, HeadReplayStats) {
        let head = Head(wal: try WAL(directory: dir + "/wal"))
        let stats = try head.replayWAL()
        return (head, stats)
    }

    func batchesStored(_ head: Head) throws -> [Int] {
        let series = try head.querier().dump([try Matcher(.equal, "__name__", "c")])
        let perSeries = series.values.map { Set($0.map { Int($0.timestamp / 1000) }) }
        // Batches every series holds.
        return perSeries.reduce(perSeries.first ?? []) { $0.intersection($1) }.sorted()
    }

    @Test(arguments: [0.25, 0.5, 0.9, 0.999])
    func flippedByteInLastSegment(at fraction: Double) throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        try write(dir.path, batches: 50)
        let segment = dir.path + "/wal/00000000"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: segment))
        let position = Int(Double(bytes.count) * fraction)
        bytes[position] ^= 0xA5
        try bytes.write(to: URL(fileURLWithPath: segment))

        let (head, stats) = try reopen(dir.path)
        #expect(stats.wal.repairedAt?.segment == 0)
        let stored = try batchesStored(head)
        // Each commit writes one series record (first commit) and one samples record of about
        // 150 bytes, so the batches before the damage are there and in order.
        #expect(!stored.isEmpty || fraction < 0.05)
        #expect(stored == Array(0..<stored.count), "a prefix of the batches survives")
        #expect(stored.count < 50)
        #expect(Double(stored.count) >= Double(50) * fraction - 2)
        // The database accepts new writes after the repair.
        _ = try head.commit { _ = $0.append(["__name__": "c", "i": "0"], Sample(timestamp: 999_000, value: 1)) }
    }

    @Test(arguments: [1, 7, 100])
    func truncatedLastSegment(by bytesCut: Int) throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        try write(dir.path, batches: 20)
        let segment = dir.path + "/wal/00000000"
        let size = try FileManager.default.attributesOfItem(atPath: segment)[.size] as? Int ?? 0
        #expect(truncate(segment, off_t(size - bytesCut)) == 0)
        let (head, stats) = try reopen(dir.path)
        #expect(stats.wal.repairedAt != nil)
        #expect(try batchesStored(head) == Array(0..<19))
    }
}

@Suite struct CheckpointTests {
    @Test func segmentsBeforeACheckpointCanBeDroppedWithoutLosingSeries() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        do {
            let wal = try WAL(directory: dir.path + "/wal")
            let head = Head(wal: wal)
            _ = try head.commit { _ = $0.append(["__name__": "a"], Sample(timestamp: 1, value: 1)) }
            let keep = try #require(try head.checkpointSeries())
            _ = try head.commit { _ = $0.append(["__name__": "a"], Sample(timestamp: 2, value: 2)) }
            // (A block would now hold the samples of the older segments.)
            try wal.truncate(before: keep)
            #expect(try wal.segments() == [keep])
        }
        let head = Head(wal: try WAL(directory: dir.path + "/wal"))
        let stats = try head.replayWAL()
        #expect(stats.samplesOfUnknownSeries == 0)
        #expect(try head.querier().dump([try Matcher(.equal, "__name__", "a")])[["__name__": "a"]] == [Sample(timestamp: 2, value: 2)])
    }
}
