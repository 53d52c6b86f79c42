import Foundation
import Logging
import Testing
import TributaryModel
import TributaryWAL

@testable import TributaryTSDB

/// The head persisted to blocks, compacted and deleted by retention, with block ranges of one
/// minute so that hours of behaviour take seconds; after each step (and a restart) every
/// sample written is read back exactly once.
@Suite struct DBTests {
    static let minute: Int64 = 60_000

    struct Store {
        let head: Head
        let db: DB
    }

    static func open(_ dir: String, retention: Int64 = 0, retentionSize: Int = 0, outOfOrderWindow: Int64 = 0) throws -> Store {
        var headOptions = HeadOptions()
        headOptions.chunkRange = minute
        headOptions.outOfOrderWindow = outOfOrderWindow
        var quiet = Logger(label: "test.tsdb")
        quiet.logLevel = .warning
        let head = Head(options: headOptions, wal: try WAL(directory: dir + "/wal"), logger: quiet)
        try head.replayWAL()
        var options = DBOptions()
        options.blockDuration = minute
        options.retentionTime = retention
        options.retentionSize = retentionSize
        return Store(head: head, db: try DB(directory: dir, head: head, options: options, logger: quiet))
    }

    /// One sample per second for `series` series over `[from, to)` (seconds).
    static func write(_ head: Head, series: [Labels], from: Int64, to: Int64, into expected: inout [Labels: [Sample]]) throws {
        for t in from..<to {
            _ = try head.commit { b in
                for (i, l) in series.enumerated() {
                    let s = Sample(timestamp: t * 1000, value: Double(t) + Double(i) / 10)
                    if b.append(l, s) == nil { expected[l, default: []].append(s) }
                }
            }
        }
    }

    static func series(_ n: Int, job: String = "node") -> [Labels] {
        (0..<n).map { ["__name__": "up", "instance": "host-\($0)", "job": job] }
    }

    static func expectAll(_ db: DB, _ expected: [Labels: [Sample]], _ when: String) throws {
        let got = try db.querier().dump([m("__name__", .equal, "up")])
        #expect(got.count == expected.count, "\(when): \(got.count) series of \(expected.count)")
        for (labels, samples) in expected {
            let have = got[labels] ?? []
            #expect(have.count == samples.count, "\(when): \(labels) has \(have.count) samples of \(samples.count)")
            #expect(have.elementsEqual(samples), "\(when): \(labels) samples differ (first \(String(describing: have.first)), last \(String(describing: have.last)))")
        }
    }

    @Test func persistsCompactsCollectsAndRestarts() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var expected: [Labels: [Sample]] = [:]
        do {
            let store = try Self.open(dir.path)
            let stopping: Labels = ["__name__": "up", "instance": "gone", "job": "node"]
            try Self.write(store.head, series: [stopping], from: 0, to: 120, into: &expected)
            try Self.write(store.head, series: Self.series(10), from: 0, to: 600, into: &expected)
            #expect(store.head.numSeries == 11)
            let before = store.head.memoryBytes
            try store.db.maintain()
            #expect(!store.db.blocks.isEmpty)
            #expect(store.head.maxTime - store.head.minTime <= Self.minute * 3 / 2, "the head spans at most 1.5 block ranges")
            #expect(store.head.numSeries == 10, "the series that stopped left the head")
            #expect(store.head.memoryBytes < before / 2, "memory \(store.head.memoryBytes) of \(before)")
            #expect(store.db.blocks.contains { $0.meta.compaction.level > 1 }, "blocks were compacted")
            let parents = Set(store.db.blocks.flatMap { $0.meta.compaction.parents?.map(\.ulid) ?? [] })
            for p in parents { #expect(!FileManager.default.fileExists(atPath: dir.path + "/" + p), "parent \(p) deleted") }
            let covered = store.db.blocks.map { ($0.minTime, $0.maxTime) }
            for (a, b) in zip(covered, covered.dropFirst()) { #expect(a.1 <= b.0, "blocks do not overlap after compaction: \(covered)") }
            try Self.expectAll(store.db, expected, "after maintenance")
            // More samples after the cut land in the WAL's new segment.
            try Self.write(store.head, series: Self.series(10), from: 600, to: 660, into: &expected)
            #expect(try store.head.wal.map { try $0.segments().count } ?? 0 <= 3, "old WAL segments removed")
        }
        let store = try Self.open(dir.path)
        try Self.expectAll(store.db, expected, "after restart")
        #expect(store.head.numSeries == 10)
    }

    /// A query that began before the head was cut into a block reads every sample: the head
    /// first, then the blocks listed at that moment (a querier that listed the blocks when it
    /// was made missed the cut's samples: the block was not in its list and the head had
    /// dropped them).
    @Test func aQueryRunningAcrossABlockCutMissesNothing() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var expected: [Labels: [Sample]] = [:]
        let store = try Self.open(dir.path)
        try Self.write(store.head, series: Self.series(3), from: 0, to: 200, into: &expected)
        let before = store.db.querier()
        #expect(store.db.blocks.isEmpty)
        try store.db.persist(before: Self.minute)
        #expect(store.db.blocks.count == 1)
        let got = try before.dump([m("__name__", .equal, "up")])
        for (labels, samples) in expected {
            #expect(got[labels]?.count == samples.count, "\(labels): \(got[labels]?.count ?? 0) samples of \(samples.count)")
        }
    }

    @Test func aBacklogDeliveredAfterTheCutIsStored() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var expected: [Labels: [Sample]] = [:]
        let site = Self.series(3, job: "site-b")
        do {
            let store = try Self.open(dir.path)
            try Self.write(store.head, series: Self.series(3), from: 0, to: 300, into: &expected)
            try Self.write(store.head, series: site, from: 0, to: 30, into: &expected)
            try store.db.maintain()
            #expect(store.head.minTime >= 2 * Self.minute, "the head moved on without site b")
            // Site b's agents come back with 4 minutes of backlog, older than the cut.
            try Self.write(store.head, series: site, from: 30, to: 270, into: &expected)
            #expect(expected[site[0]]?.count == 270, "the backlog was accepted")
            try Self.expectAll(store.db, expected, "backlog before persisting")
            try Self.write(store.head, series: Self.series(3), from: 300, to: 420, into: &expected)
            try store.db.maintain()
            try Self.expectAll(store.db, expected, "backlog persisted and compacted")
        }
        let store = try Self.open(dir.path)
        try Self.expectAll(store.db, expected, "backlog after restart")
    }

    @Test func retentionDeletesWholeOldBlocks() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var expected: [Labels: [Sample]] = [:]
        let store = try Self.open(dir.path, retention: 3 * Self.minute)
        try Self.write(store.head, series: Self.series(2), from: 0, to: 600, into: &expected)
        try store.db.maintain()
        let newest = try #require(store.db.blocks.map(\.maxTime).max())
        #expect(store.db.blocks.allSatisfy { newest - $0.maxTime < 3 * Self.minute }, "\(store.db.blocks.map { ($0.minTime, $0.maxTime) })")
        let oldest = try #require(store.db.blocks.map(\.minTime).min())
        #expect(oldest > 0, "the first minutes are gone")
        let kept = expected.mapValues { $0.filter { $0.timestamp >= oldest } }
        try Self.expectAll(store.db, kept, "after retention")

        // By size: a limit below one block keeps none.
        let sized = TempDir()
        defer { sized.cleanup() }
        let small = try Self.open(sized.path, retentionSize: 1)
        var ignored: [Labels: [Sample]] = [:]
        try Self.write(small.head, series: Self.series(2), from: 0, to: 600, into: &ignored)
        try small.db.maintain()
        #expect(small.db.blocks.isEmpty)
        #expect(small.head.numSeries == 2, "the head is not touched by retention")
    }

    @Test func leftoversOfInterruptedWritesAndCompactionsAreCleanedAtOpen() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var expected: [Labels: [Sample]] = [:]
        var parentCopy: (String, String)?
        do {
            let store = try Self.open(dir.path)
            try Self.write(store.head, series: Self.series(2), from: 0, to: 120, into: &expected)
            try store.db.persist(before: Self.minute)
            let first = try #require(store.db.blocks.first)
            // Keep a copy of a block that compaction will delete, to put it back as if the
            // compaction had been killed between writing its block and deleting the parents.
            let copy = dir.path + "/../" + first.ulid + "-copy"
            try FileManager.default.copyItem(atPath: first.directory, toPath: copy)
            parentCopy = (copy, first.directory)
            try Self.write(store.head, series: Self.series(2), from: 120, to: 600, into: &expected)
            try store.db.maintain()
            #expect(!FileManager.default.fileExists(atPath: first.directory))
        }
        if let (copy, original) = parentCopy { try FileManager.default.moveItem(atPath: copy, toPath: original) }
        try FileManager.default.createDirectory(atPath: dir.path + "/01ARZ3NDEKTSV4RRFFQ69G5FAV.tmp-for-creation", withIntermediateDirectories: true)
        let store = try Self.open(dir.path)
        #expect(!FileManager.default.fileExists(atPath: parentCopy?.1 ?? ""), "a parent of a loaded block is deleted at open")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/01ARZ3NDEKTSV4RRFFQ69G5FAV.tmp-for-creation"))
        try Self.expectAll(store.db, expected, "after cleanup")
    }

    /// A crash between a block's rename and the WAL checkpoint replays the block's samples into
    /// the head; the next block then holds the same samples again. Compaction must merge the
    /// two into one copy of each sample (not two chunks with the same timestamps).
    @Test func overlappingBlocksWithTheSameSamplesCompactIntoOneCopy() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var expected: [Labels: [Sample]] = [:]
        let store = try Self.open(dir.path)
        try Self.write(store.head, series: Self.series(2), from: 0, to: 50, into: &expected)
        let series = expected.map { BlockSeries(labels: $0.key, chunks: Head.encode($0.value)) }
        for _ in 0..<2 { _ = try BlockWriter.write(series, minTime: 0, maxTime: Self.minute, into: dir.path) }
        let reopened = try DB(directory: dir.path, head: Head(), options: store.db.options)
        #expect(reopened.blocks.count == 2)
        try reopened.maintain()
        #expect(reopened.blocks.count == 1, "the overlapping blocks were compacted")
        let block = try #require(reopened.blocks.first)
        #expect(block.meta.stats.numSamples == 100, "each sample once: \(block.meta.stats.numSamples)")
        let stored = try block.querier().dump([m("__name__", .equal, "up")])
        for (labels, samples) in expected { #expect(stored[labels] == samples, "\(labels)") }
    }
}
