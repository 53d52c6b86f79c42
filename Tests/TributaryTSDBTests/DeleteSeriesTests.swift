import Foundation
import Logging
import Testing
import TributaryModel
import TributaryWAL

@testable import TributaryTSDB

/// The admin API's `delete_series` and `clean_tombstones` on the storage: deleted ranges are
/// gone from the head at once and hidden in blocks by tombstones; they stay gone across a
/// restart, a compaction and a cleaning, and samples written after the deletion stay.
@Suite struct DeleteSeriesTests {
    static let minute: Int64 = 60_000

    static func open(_ dir: String) throws -> DBTests.Store {
        try DBTests.open(dir, outOfOrderWindow: 10 * minute)
    }

    /// `expectAll` through both read paths: the iterator and the bulk decoder.
    static func expectAll(_ db: DB, _ expected: [Labels: [Sample]], _ when: String) throws {
        try DBTests.expectAll(db, expected, when)
        for s in try db.querier().select([m("__name__", .equal, "up")], start: .min, end: .max) {
            var bulk: [Sample] = []
            s.appendSamples(to: &bulk)
            let same = bulk == expected[s.labels]
            #expect(same, "\(when): \(s.labels) read in bulk: \(bulk.count) samples of \(expected[s.labels]?.count ?? 0)")
        }
    }

    static func deleting(_ expected: inout [Labels: [Sample]], instances: Set<String>, from: Int64, to: Int64) {
        for (labels, samples) in expected where instances.contains(labels.value(of: "instance") ?? "") {
            let kept = samples.filter { $0.timestamp < from || $0.timestamp > to }
            expected[labels] = kept.isEmpty ? nil : kept
        }
    }

    @Test func deletedRangesStayGoneThroughRestartCompactionAndCleaning() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var expected: [Labels: [Sample]] = [:]
        let matchers = [m("__name__", .equal, "up"), m("instance", .regexMatch, "host-[12]")]
        do {
            let store = try Self.open(dir.path)
            try DBTests.write(store.head, series: DBTests.series(6), from: 0, to: 600, into: &expected)
            try store.db.persist(before: 2 * Self.minute)
            try store.db.persist(before: 4 * Self.minute)
            #expect(store.db.blocks.count == 2)
            // From the middle of the first block to the middle of the head.
            let hit = try store.db.delete(matchers, start: 100_000, end: 500_000)
            #expect(hit == 6, "2 series in each of 2 blocks and the head: \(hit)")
            Self.deleting(&expected, instances: ["host-1", "host-2"], from: 100_000, to: 500_000)
            try Self.expectAll(store.db, expected, "after the deletion")
            #expect(store.db.blocks.allSatisfy { $0.tombstones.count == 2 && $0.meta.stats.numTombstones == 2 })
            #expect(store.db.blocks.allSatisfy { (try? BlockMeta.read(directory: $0.directory).stats.numTombstones) == 2 }, "meta.json on disk says so")
            // A sample that arrives afterwards inside the deleted range (a backlog) stays.
            let late = Sample(timestamp: 450_500, value: 42)
            let host1: Labels = ["__name__": "up", "instance": "host-1", "job": "node"]
            _ = try store.head.commit { #expect($0.append(host1, late) == nil) }
            expected[host1] = ((expected[host1] ?? []) + [late]).sorted { $0.timestamp < $1.timestamp }
            try Self.expectAll(store.db, expected, "after a late sample")
        }
        do {
            let store = try Self.open(dir.path)
            try Self.expectAll(store.db, expected, "after a restart (WAL replay and tombstones files)")
            try store.db.maintain()  // persists the head, compacts the deleted blocks
            try Self.expectAll(store.db, expected, "after persisting and compacting")
            try store.db.delete(matchers, start: 0, end: 30_000)
            Self.deleting(&expected, instances: ["host-1", "host-2"], from: 0, to: 30_000)
            #expect(store.db.blocks.contains { !$0.tombstones.isEmpty })
            let samplesBefore = store.db.blocks.reduce(0) { $0 + $1.meta.stats.numSamples }
            #expect(try store.db.cleanTombstones() > 0)
            #expect(store.db.blocks.allSatisfy { $0.tombstones.isEmpty }, "cleaned blocks have no tombstones")
            let samplesAfter = store.db.blocks.reduce(0) { $0 + $1.meta.stats.numSamples }
            #expect(samplesAfter == samplesBefore - 2 * 31, "the 31 deleted samples of 2 series are gone from disk: \(samplesBefore) → \(samplesAfter)")
            try Self.expectAll(store.db, expected, "after cleaning")
        }
        let store = try Self.open(dir.path)
        try Self.expectAll(store.db, expected, "after the last restart")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".tmp-for-creation") || $0.hasSuffix(".tmp-for-deletion") }
        #expect(leftovers.isEmpty)
    }

    /// A cleaning killed after writing the new block but before deleting the old one: the old
    /// one (its tombstones included) must not come back, or the deleted samples would.
    @Test func aCleaningInterruptedBeforeTheOldBlockWentIsFinishedAtOpen() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var expected: [Labels: [Sample]] = [:]
        do {
            let store = try Self.open(dir.path)
            try DBTests.write(store.head, series: DBTests.series(2), from: 0, to: 100, into: &expected)
            try store.db.persist(before: Self.minute)
            let old = try #require(store.db.blocks.first)
            try store.db.delete([m("instance", .equal, "host-0")], start: 0, end: 9_000)
            Self.deleting(&expected, instances: ["host-0"], from: 0, to: 9_000)
            let copy = dir.path + "/saved"
            try FileManager.default.copyItem(atPath: old.directory, toPath: copy)
            try store.db.cleanTombstones()
            try FileManager.default.moveItem(atPath: copy, toPath: old.directory)  // as if never deleted
        }
        let store = try Self.open(dir.path)
        #expect(store.db.blocks.count == 1, "the parent of the cleaned block was removed at open")
        try Self.expectAll(store.db, expected, "after the interrupted cleaning")
    }

    /// Our tombstones file in Prometheus's format: Debian's `promtool tsdb dump` leaves out what
    /// it deletes, and reads nothing else differently.
    @Test func promtoolHonoursOurTombstones() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let data = BlockTests.data(series: 6)
        let head = Head()
        try BlockTests.load(head, data)
        let db = try DB(directory: dir.path + "/data", head: head)
        try db.persist(before: 2 * BlockTests.hour)
        let block = try #require(db.blocks.first)
        #expect(try block.delete([m("instance", .equal, "host-2")], start: 600_000, end: 1_200_000) == 1)
        #expect(try block.delete([m("instance", .equal, "host-4")], start: .min, end: .max) == 1)
        let promDir = dir.path + "/prom"
        try FileManager.default.createDirectory(atPath: promDir + "/wal", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: block.directory, toPath: promDir + "/" + block.ulid)
        let dump = try BlockTests().promtool(["tsdb", "dump", promDir])
        var counts: [String: Int] = [:]
        var inDeletedRange = 0
        for line in dump.split(separator: "\n") {
            guard line.contains("}"), let t = line.split(separator: " ").last.flatMap({ Int64($0) }) else { continue }
            let instance = line.contains("host-2") ? "host-2" : line.contains("host-4") ? "host-4" : "other"
            counts[instance, default: 0] += 1
            if instance == "host-2", t >= 600_000, t <= 1_200_000 { inDeletedRange += 1 }
        }
        #expect(counts["host-4"] == nil, "host-4 deleted whole: \(counts)")
        #expect(inDeletedRange == 0)
        #expect(counts["host-2"] == 480 - 41, "41 samples of 15 s in [10m, 20m] deleted: \(counts)")
        #expect(counts["other"] == 4 * 480, "\(counts)")
    }

    @Test func tombstonesFileRoundTripsMergesAndRefusesDamage() throws {
        var t = Tombstones()
        t.add(7, .init(10, 20))
        t.add(7, .init(21, 30))  // touching: merged
        t.add(7, .init(50, 60))
        t.add(3, .init(.min, .max))
        t.add(7, .init(15, 55))  // bridges both
        #expect(t.intervals(7) == [.init(10, 60)])
        #expect(t.count == 2)
        let bytes = t.encoded()
        #expect(Array(bytes.prefix(5)) == [0x01, 0x30, 0xBA, 0x30, 0x01])
        let back = try bytes.withUnsafeBytes { try Tombstones.decode($0, path: "x/tombstones") }
        #expect(back == t)
        var damaged = bytes
        damaged[6] ^= 0x40
        let error = #expect(throws: BlockError.self) { try damaged.withUnsafeBytes { try Tombstones.decode($0, path: "x/tombstones") } }
        let why = error?.description ?? ""
        #expect(why.contains("x/tombstones") && why.contains("checksum") && why.contains("byte"), "\(why)")
        let empty = Tombstones().encoded()
        #expect(empty == [0x01, 0x30, 0xBA, 0x30, 0x01, 0, 0, 0, 0])
    }
}
