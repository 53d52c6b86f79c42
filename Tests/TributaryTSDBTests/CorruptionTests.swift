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
    /// Segments before a checkpoint go; a series whose record was only in them survives in the
    /// checkpoint, so a restart still places the samples of later segments.
    @Test func segmentsBeforeACheckpointCanBeDroppedWithoutLosingSeries() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        do {
            let wal = try WAL(directory: dir.path + "/wal")
            let head = Head(wal: wal)
            _ = try head.commit { _ = $0.append(["__name__": "a"], Sample(timestamp: 1, value: 1)) }
            // The head was not truncated (no block took its samples): the checkpoint keeps them.
            let keep = try head.checkpoint()
            _ = try head.commit { _ = $0.append(["__name__": "a"], Sample(timestamp: 2, value: 2)) }
            #expect(try wal.segments() == keep.map { [$0] })
            #expect(FileManager.default.fileExists(atPath: dir.path + "/wal/checkpoint"))
        }
        let head = Head(wal: try WAL(directory: dir.path + "/wal"))
        let stats = try head.replayWAL()
        #expect(stats.samplesOfUnknownSeries == 0, "the series came from the checkpoint")
        #expect(
            try head.querier().dump([try Matcher(.equal, "__name__", "a")])[["__name__": "a"]] == [Sample(timestamp: 1, value: 1), Sample(timestamp: 2, value: 2)],
            "the sample of the removed segment came back from the checkpoint")
    }

    /// A damaged checkpoint: the records before the damage are used, the reading stops there
    /// and says where; a missing one is no records.
    @Test func damagedCheckpointIsReadUpToTheDamage() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let walDir = dir.path + "/wal"
        try FileManager.default.createDirectory(atPath: walDir, withIntermediateDirectories: true)
        #expect(try Checkpoint.read(walDir) { _, _ in } == Checkpoint.ReadStats())
        let writer = try CheckpointWriter(walDirectory: walDir)
        try writer.appendSeries(ids: [1], labels: [["__name__": "a"]])
        try writer.appendSeries(ids: [2], labels: [["__name__": "b"]])
        try writer.commit()
        var bytes = try #require(FileManager.default.contents(atPath: Checkpoint.path(walDir)))
        bytes[bytes.count - 1] ^= 0xff
        try bytes.write(to: URL(fileURLWithPath: Checkpoint.path(walDir)))
        var ids: [UInt32] = []
        let stats = try Checkpoint.read(walDir) { kind, payload in
            if kind == .series { _ = RecordCodec.decodeSeries(payload) { id, _ in ids.append(id) } }
        }
        #expect(ids == [1])
        #expect(stats.records == 1 && stats.damage?.contains("checksum mismatch") == true, "\(stats)")
    }

    /// A writer dropped before its commit leaves the old checkpoint in place and no partial file.
    @Test func uncommittedCheckpointLeavesTheOldOne() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let walDir = dir.path + "/wal"
        try FileManager.default.createDirectory(atPath: walDir, withIntermediateDirectories: true)
        let first = try CheckpointWriter(walDirectory: walDir)
        try first.appendSeries(ids: [1], labels: [["__name__": "a"]])
        try first.commit()
        do {
            let second = try CheckpointWriter(walDirectory: walDir)
            try second.appendSeries(ids: [7], labels: [["__name__": "z"]])
        }
        #expect(!FileManager.default.fileExists(atPath: Checkpoint.path(walDir) + ".tmp"))
        var ids: [UInt32] = []
        try Checkpoint.read(walDir) { _, payload in _ = RecordCodec.decodeSeries(payload) { id, _ in ids.append(id) } }
        #expect(ids == [1])
    }
}
