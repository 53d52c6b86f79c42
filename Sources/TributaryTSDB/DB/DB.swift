import Foundation
import Logging
import Synchronization
import TributaryModel
import TributaryWAL

/// The TSDB of a receiver's data directory, laid out as Prometheus's `--storage.tsdb.path`:
/// the head with its `wal/`, and one directory per block. Persists the head into blocks,
/// compacts blocks into larger ones, applies retention, and reads all of it as one.
///
/// Concurrency: queries take a snapshot of the block list; persistence, compaction and
/// retention run one at a time (``maintain()``), and never block commits for longer than a
/// WAL cut and the removal of emptied series.
public final class DB: Sendable {
    public let directory: String
    public let head: Head
    public let options: DBOptions
    let logger: Logger
    let state = Mutex<[Block]>([])
    let maintenance = Mutex<Void>(())
    /// Counts since open, for `/metrics`.
    public let counts = Counts()

    /// What the DB did since it was opened.
    public final class Counts: Sendable {
        /// Blocks written from the head.
        public let headBlocks = Atomic<Int>(0)
        /// Compactions (each merges two or more blocks into one).
        public let compactions = Atomic<Int>(0)
        /// Blocks deleted by retention.
        public let retentionDeletions = Atomic<Int>(0)
        /// Maintenance runs that failed (logged; retried at the next run).
        public let failures = Atomic<Int>(0)

        /// Head blocks, compactions, retention deletions, failures, in that order.
        public var all: [Int] {
            [
                headBlocks.load(ordering: .relaxed), compactions.load(ordering: .relaxed),
                retentionDeletions.load(ordering: .relaxed), failures.load(ordering: .relaxed)
            ]
        }
    }

    /// Opens the blocks in `directory` (the head is opened, and its WAL replayed, by the caller).
    /// Removes what interrupted writes and deletions left (`*.tmp-for-creation`,
    /// `*.tmp-for-deletion`) and blocks that a loaded block was compacted from.
    public init(directory: String, head: Head, options: DBOptions = DBOptions(), logger: Logger = Logger(label: "tributary.tsdb")) throws(BlockError) {
        self.directory = directory
        self.head = head
        self.options = options
        self.logger = logger
        let names: [String]
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw BlockError("\(directory): cannot open the data directory: \(error)")
        }
        var blocks: [Block] = []
        for name in names.sorted() {
            let path = directory + "/" + name
            if name.hasSuffix(BlockWriter.temporarySuffix) || name.hasSuffix(Self.deletionSuffix) {
                logger.info("removing an interrupted block write or deletion", metadata: ["dir": "\(path)"])
                try? FileManager.default.removeItem(atPath: path)
                continue
            }
            guard ULID(name) != nil else { continue }
            blocks.append(try Block(directory: path))
        }
        // A compaction or tombstone cleaning killed after writing its block but before
        // deleting its parents: a block another names as its parent, or whose sources another
        // block of a higher level holds too, is redundant.
        let parents = Set(blocks.flatMap { $0.meta.compaction.parents ?? [] }.map(\.ulid))
        let redundant = Set(
            blocks.filter { b in
                b.meta.compaction.deletable == true || parents.contains(b.ulid)
                    || blocks.contains { c in
                        c.meta.compaction.level > b.meta.compaction.level && Set(c.meta.compaction.sources).isSuperset(of: b.meta.compaction.sources)
                    }
            }.map(\.ulid))
        for b in blocks where redundant.contains(b.ulid) {
            logger.info("removing a block already compacted into another", metadata: ["block": "\(b.ulid)"])
            Self.delete(b.directory)
        }
        blocks.removeAll { redundant.contains($0.ulid) }
        state.withLock { $0 = Self.ordered(blocks) }
    }

    static let deletionSuffix = ".tmp-for-deletion"

    /// The blocks, oldest first.
    public var blocks: [Block] { state.withLock { $0 } }

    /// Reads the blocks and the head as one storage.
    public func querier() -> any Querier {
        MergeQuerier(blocks: { [self] in blocks.map { $0.querier() } }, head: head.querier())
    }

    /// Whether the head spans more than 1.5 block durations (a block is due; Prometheus checks
    /// this after every commit as well as once a minute).
    public var headNeedsPersisting: Bool {
        let minT = head.minTime, maxT = head.maxTime
        return minT != .max && maxT > minT && maxT - minT > options.blockDuration / 2 * 3
    }

    /// Persists the head while it spans more than 1.5 block durations, compacts blocks and
    /// applies retention. Called about once a minute (and at any time by tests).
    public func maintain() throws(BlockError) {
        do {
            try maintenance.withLock { _ throws(BlockError) in
                try persistHead()
                try compact()
                applyRetention()
            }
        } catch {
            counts.failures.add(1, ordering: .relaxed)
            throw error
        }
    }

    /// Writes the head's oldest block range to a block, drops it from memory and checkpoints
    /// the WAL, for as long as the head spans more than 1.5 block durations.
    func persistHead() throws(BlockError) {
        while true {
            let minT = head.minTime
            guard headNeedsPersisting else { return }
            let boundary = ChunkCutter.rangeEnd(minT, options.blockDuration)
            try persist(before: boundary)
            guard head.minTime > minT else { return }  // nothing moved: do not spin
        }
    }

    /// Writes every head chunk that ends before `boundary` as a block, then drops them from the
    /// head and checkpoints the WAL. Public for `tributary` commands and tests.
    public func persist(before boundary: Int64) throws(BlockError) {
        let started = ContinuousClock.now
        let cut = head.cut(before: boundary)
        guard !cut.series.isEmpty else {
            head.truncate(cut)
            return
        }
        guard let meta = try BlockWriter.write(cut.series, minTime: cut.minTime, maxTime: max(boundary, cut.maxTime + 1), into: directory) else { return }
        let block = try Block(directory: directory + "/" + meta.ulid)
        state.withLock { $0 = Self.ordered($0 + [block]) }
        counts.headBlocks.add(1, ordering: .relaxed)
        let removed = head.truncate(cut)
        if head.wal != nil {
            do {
                try head.checkpoint()
            } catch {
                // The block is durable; the WAL still holds its samples too (replayed, they
                // are merged with the block's on reading). The next persist retries.
                logger.error("WAL checkpoint after a block failed", metadata: ["error": "\(error)"])
            }
        }
        logger.info(
            "head persisted to a block",
            metadata: [
                "block": "\(meta.ulid)", "min_time": "\(meta.minTime)", "max_time": "\(meta.maxTime)", "series": "\(meta.stats.numSeries)",
                "samples": "\(meta.stats.numSamples)", "series_removed_from_head": "\(removed)", "seconds": "\(started.secondsElapsed)"
            ])
    }

    static func ordered(_ blocks: [Block]) -> [Block] {
        blocks.sorted { ($0.minTime, $0.ulid) < ($1.minTime, $1.ulid) }
    }

    /// Deletes a block directory as Prometheus does: renamed first, so a crash never leaves
    /// half a block that looks whole.
    static func delete(_ path: String) {
        let doomed = path + deletionSuffix
        if rename(path, doomed) == 0 {
            try? FileManager.default.removeItem(atPath: doomed)
        } else {
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}
