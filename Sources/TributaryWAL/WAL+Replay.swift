import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What replay found.
public struct ReplayStats: Sendable, Equatable {
    public var segments = 0
    public var records = 0
    public var bytes = 0
    /// Where the log was cut because of a torn or corrupt record, if it was.
    public var repairedAt: (segment: Int, offset: Int)?

    public init() {}

    public static func == (a: ReplayStats, b: ReplayStats) -> Bool {
        a.segments == b.segments && a.records == b.records && a.bytes == b.bytes
            && a.repairedAt?.segment == b.repairedAt?.segment && a.repairedAt?.offset == b.repairedAt?.offset
    }
}

extension WAL {
    /// Reads every valid record in order and hands it to `handler`, repairing the log as
    /// `Docs/wal.md` says: the first invalid record ends it (its segment is truncated there and
    /// later segments are moved aside). Call before logging new records.
    /// - Throws: ``WALError`` only for I/O failures; damage is repaired, logged and reported in
    ///   the returned ``ReplayStats``.
    @discardableResult
    public func replay(_ handler: (Record.Kind, UnsafeRawBufferPointer) -> Void) throws(WALError) -> ReplayStats {
        var stats = ReplayStats()
        let segments = try self.segments()
        for (position, segment) in segments.enumerated() {
            let path = Self.path(directory, segment)
            let bytes = try Self.readFile(path)
            stats.segments += 1
            var damage: (offset: Int, reason: String)?
            bytes.withUnsafeBytes { raw in
                var offset = 0
                loop: while true {
                    switch Record.read(raw, at: offset) {
                    case .end:
                        break loop
                    case .invalid(let reason):
                        damage = (offset, reason)
                        break loop
                    case .record(let kind, let payload, let next):
                        handler(kind, payload)
                        stats.records += 1
                        stats.bytes += next - offset
                        offset = next
                    }
                }
            }
            guard let damage else { continue }
            stats.repairedAt = (segment, damage.offset)
            let later = segments[(position + 1)...]
            if later.isEmpty {
                logger.warning(
                    "WAL: torn record at the end of the log; truncating",
                    metadata: ["segment": "\(path)", "offset": "\(damage.offset)", "reason": "\(damage.reason)"])
            } else {
                logger.error(
                    "WAL: corrupt record; truncating and moving later segments aside",
                    metadata: [
                        "segment": "\(path)", "offset": "\(damage.offset)", "reason": "\(damage.reason)",
                        "moved": "\(later.map { String($0) }.joined(separator: ","))"
                    ])
            }
            try repair(segment: segment, at: damage.offset, moving: Array(later))
            break
        }
        return stats
    }

    private func repair(segment: Int, at offset: Int, moving later: [Int]) throws(WALError) {
        let path = Self.path(directory, segment)
        guard Glibc.truncate(path, off_t(offset)) == 0 else { throw WALError.io("cannot truncate segment", path, errno: errno) }
        for s in later {
            let from = Self.path(directory, s)
            guard rename(from, from + ".corrupt") == 0 else { throw WALError.io("cannot move aside segment", from, errno: errno) }
        }
        // The writer may have opened a later segment; point it back at the repaired one.
        let result: Result<Void, WALError> = writer.withLock { w in
            close(w.fd)
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0 else { return .failure(WALError.io("cannot open segment", path, errno: errno)) }
            w = Writer(fd: fd, segment: segment, offset: offset)
            return .success(())
        }
        try result.get()
        Self.syncDirectory(directory)
    }

    static func readFile(_ path: String) throws(WALError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw WALError.io("cannot open segment", path, errno: errno) }
        defer { close(fd) }
        let size = Int(lseek(fd, 0, SEEK_END))
        _ = lseek(fd, 0, SEEK_SET)
        var bytes = [UInt8](repeating: 0, count: max(size, 0))
        var done = 0
        let failure: Int32? = bytes.withUnsafeMutableBytes { raw in
            while done < size {
                let n = read(fd, raw.baseAddress! + done, size - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                if n == 0 { break }
                done += n
            }
            return nil
        }
        if let failure { throw WALError.io("cannot read segment", path, errno: failure) }
        if done < size { bytes.removeLast(size - done) }
        return bytes
    }
}
