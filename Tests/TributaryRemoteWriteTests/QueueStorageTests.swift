import Foundation
import Logging
import Testing
import TributaryModel
import TributaryWAL
import TributaryWire

@testable import TributaryRemoteWrite

/// The queue WAL's truncation: delivered segments go, their series survive in the checkpoint
/// (written in chunks), a restart reads them back, and series ended before the retention are
/// left out.
@Suite struct QueueStorageTests {
    @Test func checkpointKeepsTheSeriesOfRemovedSegments() throws {
        let dir = NSTemporaryDirectory() + "tributary-storage-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let logger = Logger(label: "test")
        let count = 25_000  // more than one checkpoint chunk
        do {
            let storage = try QueueStorage(directory: dir, segmentSize: 1 << 20, logger: logger)
            let first = storage.allocate(count)
            let series = (0..<count).map { (first + UInt32($0), (["__name__": "m", "i": "\($0)", "job": "j"] as Labels)) }
            for part in stride(from: 0, to: count, by: 5_000) {
                let slice = Array(series[part..<part + 5_000])
                try storage.append(series: slice, ids: slice.map { $0.0 }, samples: slice.map { _ in Sample(timestamp: 1_000, value: 1) })
                _ = try storage.wal.cut()
            }
            storage.expire([first, first + 1], endedAt: 1_000)
            let segments = try storage.wal.segments()
            let last = try #require(segments.last)
            try storage.truncate(before: WALPosition(segment: last, offset: 0), now: 10_000_000, retention: 3_600_000)
            #expect(try storage.wal.segments() == [last])
            #expect(storage.labels(first) == nil, "ended before the retention: forgotten")
            #expect(storage.labels(first + 2) == (["__name__": "m", "i": "2", "job": "j"] as Labels))
        }
        // A restart finds every series that was not forgotten in the checkpoint.
        let reopened = try QueueStorage(directory: dir, segmentSize: 1 << 20, logger: logger)
        var found = 0
        try Checkpoint.read(dir + "/wal") { kind, payload in if kind == .series { _ = RecordCodec.decodeSeries(payload) { _, _ in found += 1 } } }
        #expect(found == count - 2)
        #expect(reopened.labels(1) == nil)
        #expect(reopened.labels(UInt32(count)) == (["__name__": "m", "i": "\(count - 1)", "job": "j"] as Labels))
        #expect(!FileManager.default.fileExists(atPath: dir + "/wal/checkpoint.tmp"))
        let next = reopened.allocate(1)
        #expect(next > UInt32(count), "ids continue above the checkpoint's")
    }

    /// Packed labels as libprotobuf-c writes them, from `labels`.
    static func packed(_ labels: Labels) -> [UInt8] { WriteRequestEncoder().packLabels(labels) }

    @Test func seriesByIDHoldsDenseIdsAndRefusesFarOnes() {
        var table = SeriesByID()
        let scratch = ScratchBuffer()
        let a = Self.packed(["__name__": "a", "job": "j"]), b = Self.packed(["__name__": "b", "job": "j"])
        func bytes(_ id: UInt32) -> [UInt8]? { table.bytes(id, scratch).map { Array($0) } }
        let setA = a.withUnsafeBytes { table.set(3, $0) }, setB = b.withUnsafeBytes { table.set(1, $0) }
        #expect(setA && setB)
        #expect(bytes(3) == a && bytes(1) == b && bytes(2) == nil && bytes(100) == nil)
        #expect(table.count == 2 && table.maxID == 3)
        #expect(table.labelCount == 3, "job=\"j\" is kept once")
        table.remove(3)
        #expect(table.count == 1 && table.maxID == 1 && bytes(3) == nil && !table.contains(3))
        let far = a.withUnsafeBytes { table.set(UInt32(SeriesByID.maxJump + 10), $0) }
        #expect(!far, "an id 16M past the others is refused")
        let junk: [UInt8] = [0x12, 0x01, 0x41]
        let setJunk = junk.withUnsafeBytes { table.set(5, $0) }
        #expect(!setJunk && !table.contains(5), "bytes that are not packed labels are refused")
        var seen: [UInt32] = []
        table.forEach(in: 0..<1000) { id, _ in seen.append(id) }
        #expect(seen == [1])
    }

    /// Labels shared by many series are stored once; replaced and removed series leave dead
    /// numbers that a compaction drops, every live series keeping its bytes.
    @Test func seriesByIDSharesLabelsAndCompacts() {
        var table = SeriesByID()
        let scratch = ScratchBuffer()
        func labels(_ i: Int, _ round: Int) -> Labels {
            ["__name__": "node_cpu_seconds_total", "cpu": "\(i / 8)", "mode": "m\(i % 8)", "instance": "host-\(i % 50):9100", "round": "\(round)"]
        }
        let n = 20_000
        for i in 0..<n { _ = Self.packed(labels(i, 0)).withUnsafeBytes { table.set(UInt32(i), $0) } }
        // 1 name, 2,500 cpus, 8 modes, 50 instances, 1 round.
        #expect(table.labelCount == 1 + n / 8 + 8 + 50 + 1)
        for i in stride(from: 0, to: n, by: 2) { table.remove(UInt32(i)) }
        for i in stride(from: 1, to: n, by: 4) { _ = Self.packed(labels(i, 1)).withUnsafeBytes { table.set(UInt32(i), $0) } }
        #expect(table.count == n / 2)
        #expect(table.deadRefs > 0)
        table.compactIfWasteful()
        #expect(table.deadRefs == 0, "more than half was dead: compacted")
        #expect(table.labelCount == 1 + n / 8 + 4 + 25 + 2, "labels only removed series used (even modes and instances) are gone")
        for i in 0..<n {
            let expected: [UInt8]? = i % 2 == 0 ? nil : Self.packed(labels(i, i % 4 == 1 ? 1 : 0))
            #expect(table.bytes(UInt32(i), scratch).map { Array($0) } == expected, "series \(i)")
        }
    }

    /// Upkeep truncates once four segments are delivered, or when ten minutes passed since the
    /// last truncation: a checkpoint writes every series, so not every minute.
    @Test func upkeepWaitsForEnoughDeliveredSegments() throws {
        let dir = NSTemporaryDirectory() + "tributary-upkeep-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let storage = try QueueStorage(directory: dir, segmentSize: 1 << 20, logger: Logger(label: "test"))
        let upkeep = WALUpkeepService(storage: storage, queues: { [] }, retention: 3_600_000, logger: Logger(label: "test"))
        let id = storage.allocate(1)
        func segment() throws {
            try storage.append(series: [(id, ["__name__": "m"])], ids: [id], samples: [Sample(timestamp: 1, value: 1)])
            _ = try storage.wal.cut()
        }
        for _ in 0..<3 { try segment() }
        #expect(try storage.wal.segments().count == 4)
        #expect(!upkeep.upkeep(sinceLast: .seconds(60)), "three delivered segments wait")
        #expect(upkeep.upkeep(sinceLast: .seconds(600)), "ten minutes on, they go")
        #expect(try storage.wal.segments().count == 1)
        for _ in 0..<4 { try segment() }
        #expect(upkeep.upkeep(sinceLast: .seconds(60)), "four go at once")
        #expect(try storage.wal.segments().count == 1)
        #expect(storage.labels(id) == ["__name__": "m"], "the checkpoint kept the series")
    }
}
