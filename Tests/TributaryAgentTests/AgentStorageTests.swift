import Foundation
import Logging
import Testing
import TributaryModel
import TributaryWAL
@testable import TributaryAgent

/// The agent WAL's truncation: delivered segments go, their series survive in the checkpoint
/// (written in chunks), a restart reads them back, and series ended before the retention are
/// left out.
@Suite struct AgentStorageTests {
    @Test func checkpointKeepsTheSeriesOfRemovedSegments() throws {
        let dir = NSTemporaryDirectory() + "tributary-storage-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let logger = Logger(label: "test")
        let count = 25_000 // more than one checkpoint chunk
        do {
            let storage = try AgentStorage(directory: dir, segmentSize: 1 << 20, logger: logger)
            let first = storage.allocate(count)
            let series = (0..<count).map { (first + UInt32($0), (["__name__": "m", "i": "\($0)", "job": "j"] as Labels)) }
            for part in stride(from: 0, to: count, by: 5_000) {
                let slice = Array(series[part..<part + 5_000])
                try storage.append(series: slice, ids: slice.map { $0.0 }, samples: slice.map { _ in Sample(timestamp: 1_000, value: 1) })
                _ = try storage.wal.cut()
            }
            storage.ended([first, first + 1], at: 1_000)
            let segments = try storage.wal.segments()
            let last = try #require(segments.last)
            try storage.truncate(before: WALPosition(segment: last, offset: 0), now: 10_000_000, retention: 3_600_000)
            #expect(try storage.wal.segments() == [last])
            #expect(storage.labels(first) == nil, "ended before the retention: forgotten")
            #expect(storage.labels(first + 2) == (["__name__": "m", "i": "2", "job": "j"] as Labels))
        }
        // A restart finds every series that was not forgotten in the checkpoint.
        let reopened = try AgentStorage(directory: dir, segmentSize: 1 << 20, logger: logger)
        var found = 0
        AgentStorage.readCheckpoint(dir + "/wal") { _, _ in found += 1 }
        #expect(found == count - 2)
        #expect(reopened.labels(1) == nil)
        #expect(reopened.labels(UInt32(count)) == (["__name__": "m", "i": "\(count - 1)", "job": "j"] as Labels))
        #expect(!FileManager.default.fileExists(atPath: dir + "/wal/checkpoint.tmp"))
        let next = reopened.allocate(1)
        #expect(next > UInt32(count), "ids continue above the checkpoint's")
    }

    @Test func seriesByIDHoldsDenseIdsAndRefusesFarOnes() {
        var table = SeriesByID()
        let a: Labels = ["__name__": "a"], b: Labels = ["__name__": "b"]
        let setA = table.set(3, a), setB = table.set(1, b)
        #expect(setA && setB)
        #expect(table[3] == a && table[1] == b && table[2] == nil && table[100] == nil)
        #expect(table.count == 2 && table.maxID == 3)
        table.set(3, nil)
        #expect(table.count == 1 && table.maxID == 1)
        let far = table.set(UInt32(SeriesByID.maxJump + 10), a)
        #expect(!far, "an id 16M past the others is refused")
        #expect(table.all.map(\.0) == [1])
    }

    /// Upkeep truncates once four segments are delivered, or when ten minutes passed since the
    /// last truncation: a checkpoint writes every series, so not every minute.
    @Test func upkeepWaitsForEnoughDeliveredSegments() throws {
        let dir = NSTemporaryDirectory() + "tributary-upkeep-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let storage = try AgentStorage(directory: dir, segmentSize: 1 << 20, logger: Logger(label: "test"))
        let upkeep = WALUpkeepService(storage: storage, queues: [], retention: 3_600_000, logger: Logger(label: "test"))
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
