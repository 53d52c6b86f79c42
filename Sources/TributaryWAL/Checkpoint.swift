import Logging
import TributaryModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A WAL's checkpoint: the records that segments removed by truncation still owe their
/// readers (the series records that later samples name; for the head also the samples not yet
/// in a block, and the exemplars), in one file,
/// `<wal>/checkpoint`, framed as segments frame records (`Docs/wal.md`). Readers load it
/// before the segments. The head and the remote-write queues both use it.
///
/// Written to `checkpoint.tmp`, synced and renamed over the old one, so a crash leaves the
/// old checkpoint or the new one, whole.
public enum Checkpoint {
    /// The checkpoint file of the WAL in `walDirectory`.
    public static func path(_ walDirectory: String) -> String { walDirectory + "/checkpoint" }

    /// What reading a checkpoint found.
    public struct ReadStats: Sendable, Equatable {
        public var records = 0
        /// Where the file stops making sense, when it does ("offset 1234: checksum mismatch").
        public var damage: String?

        public init(records: Int = 0, damage: String? = nil) {
            self.records = records
            self.damage = damage
        }
    }

    /// Hands each record of the checkpoint to `handler`, in order; no file is no records. A
    /// damaged record ends the reading (the records before it are used); it is logged as an
    /// error naming file and offset, and reported in the stats.
    @discardableResult
    public static func read(
        _ walDirectory: String, logger: Logger = Logger(label: "tributary.wal"), _ handler: (Record.Kind, UnsafeRawBufferPointer) -> Void
    ) throws(WALError) -> ReadStats {
        let file = path(walDirectory)
        guard access(file, F_OK) == 0 else { return ReadStats() }
        let bytes = try WAL.readFile(file)
        var stats = ReadStats()
        bytes.withUnsafeBytes { raw in
            var offset = 0
            loop: while true {
                switch Record.read(raw, at: offset) {
                case .record(let kind, let payload, let next):
                    handler(kind, payload)
                    stats.records += 1
                    offset = next
                case .end:
                    break loop
                case .invalid(let reason):
                    stats.damage = "offset \(offset): \(reason)"
                    break loop
                }
            }
        }
        if let damage = stats.damage {
            logger.error("WAL checkpoint damaged; the series after the damage are lost", metadata: ["file": "\(file)", "at": "\(damage)"])
        }
        return stats
    }
}

/// Writes a new checkpoint a part at a time (so a checkpoint of many series never sits in
/// memory whole); nothing replaces the old one until ``commit()``. Dropped without a commit,
/// the partial file is removed.
public final class CheckpointWriter {
    let path: String
    let temporary: String
    var fd: Int32
    var buffer: [UInt8] = []
    /// Series written so far.
    public private(set) var series = 0

    /// Starts a checkpoint for the WAL in `walDirectory`.
    public init(walDirectory: String) throws(WALError) {
        path = Checkpoint.path(walDirectory)
        temporary = path + ".tmp"
        fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WALError.io("cannot write checkpoint", temporary, errno: errno) }
    }

    /// Appends a series record of `ids` with their `labels`.
    public func appendSeries(ids: [UInt32], labels: [Labels]) throws(WALError) {
        guard !ids.isEmpty else { return }
        buffer.removeAll(keepingCapacity: true)
        RecordCodec.appendSeries(ids: ids, labels: labels, to: &buffer)
        try write(buffer)
        series += ids.count
    }

    /// Appends a samples record (the head's samples not yet in a block).
    public func appendSamples(ids: [UInt32], samples: [Sample]) throws(WALError) {
        guard !ids.isEmpty else { return }
        buffer.removeAll(keepingCapacity: true)
        RecordCodec.appendSamples(ids: ids, samples: samples, to: &buffer)
        try write(buffer)
    }

    /// Appends an exemplars record.
    public func appendExemplars(ids: [UInt32], exemplars: [Exemplar]) throws(WALError) {
        guard !ids.isEmpty else { return }
        buffer.removeAll(keepingCapacity: true)
        RecordCodec.appendExemplars(ids: ids, exemplars: exemplars, to: &buffer)
        try write(buffer)
    }

    func write(_ bytes: [UInt8]) throws(WALError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { raw in Glibc.write(fd, raw.baseAddress! + done, bytes.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw WALError.io("cannot write checkpoint", temporary, errno: errno)
            }
            done += n
        }
    }

    /// Syncs the new checkpoint and puts it in place of the old one.
    public func commit() throws(WALError) {
        guard fsync(fd) == 0 else { throw WALError.io("cannot sync checkpoint", temporary, errno: errno) }
        close(fd)
        fd = -1
        guard rename(temporary, path) == 0 else { throw WALError.io("cannot install checkpoint", path, errno: errno) }
        WAL.syncDirectory(String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]))
    }

    deinit {
        if fd >= 0 {
            close(fd)
            unlink(temporary)
        }
    }
}
