import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A segmented write-ahead log (format in `Docs/wal.md`).
///
/// `log(_:)` writes a buffer of framed records to the current segment with `write(2)` before
/// returning, so the data survives the process being killed; with ``FsyncPolicy/always`` it
/// also calls `fdatasync(2)` before returning, so it survives power loss. With
/// ``FsyncPolicy/batch`` the owner calls ``sync()`` periodically.
///
/// Concurrency: all methods are thread-safe; writes are serialised by an internal lock.
public final class WAL: Sendable {
    public enum FsyncPolicy: String, Sendable {
        /// `fdatasync` before every `log` returns.
        case always
        /// `fdatasync` when ``sync()`` is called (the receiver does so every few seconds).
        case batch
    }

    public struct Options: Sendable {
        public var segmentSize: Int
        public var fsync: FsyncPolicy

        public init(segmentSize: Int = 128 << 20, fsync: FsyncPolicy = .batch) {
            self.segmentSize = segmentSize
            self.fsync = fsync
        }
    }

    struct Writer {
        var fd: Int32
        var segment: Int
        var offset: Int
        var unsynced = false
    }

    public let directory: String
    public let options: Options
    let logger: Logger
    let writer: Mutex<Writer>
    /// Bytes of records written since the log was opened (exported as a metric).
    public let bytesWritten = Atomic<Int>(0)

    /// Opens the log in `directory` (created if missing) for appending after the last segment.
    /// Call ``replay(_:)`` first to read what is there: it also repairs a torn tail.
    public init(directory: String, options: Options = Options(), logger: Logger = Logger(label: "tributary.wal")) throws(WALError) {
        self.directory = directory
        self.options = options
        self.logger = logger
        try Self.makeDirectory(directory)
        let segments = try Self.segments(in: directory)
        let segment = segments.last ?? 0
        let path = Self.path(directory, segment)
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WALError.io("cannot open segment", path, errno: errno) }
        let size = lseek(fd, 0, SEEK_END)
        writer = Mutex(Writer(fd: fd, segment: segment, offset: Int(size)))
    }

    deinit {
        writer.withLock { w in
            if w.unsynced { _ = fdatasync(w.fd) }
            close(w.fd)
        }
    }

    /// Writes `records` (framed with ``Record/append(_:to:_:)``) to the log.
    /// - Throws: ``WALError`` when the bytes could not be written; nothing may be acknowledged.
    public func log(_ records: [UInt8]) throws(WALError) {
        guard !records.isEmpty else { return }
        let result: Result<Void, WALError> = writer.withLock { w in
            do throws(WALError) {
                if w.offset > 0, w.offset + records.count > options.segmentSize {
                    try rotate(&w)
                }
                let fd = w.fd, segment = w.segment
                try records.withUnsafeBytes { raw in
                    Result { () throws(WALError) in try writeAll(fd, raw, segment: segment) }
                }.get()
                w.offset += records.count
                bytesWritten.add(records.count, ordering: .relaxed)
                if options.fsync == .always {
                    guard fdatasync(w.fd) == 0 else { throw WALError.io("cannot sync segment", Self.path(directory, w.segment), errno: errno) }
                } else {
                    w.unsynced = true
                }
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }

    /// Flushes written records to stable storage.
    public func sync() throws(WALError) {
        let result: Result<Void, WALError> = writer.withLock { w in
            guard w.unsynced else { return .success(()) }
            guard fdatasync(w.fd) == 0 else { return .failure(WALError.io("cannot sync segment", Self.path(directory, w.segment), errno: errno)) }
            w.unsynced = false
            return .success(())
        }
        try result.get()
    }

    /// Starts a new segment; returns its number. Records logged before are in earlier segments.
    @discardableResult
    public func cut() throws(WALError) -> Int {
        let result: Result<Int, WALError> = writer.withLock { w in
            do throws(WALError) {
                try rotate(&w)
                return .success(w.segment)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Removes the segments numbered below `segment` (their data is persisted elsewhere).
    public func truncate(before segment: Int) throws(WALError) {
        for s in try Self.segments(in: directory) where s < segment {
            let path = Self.path(directory, s)
            guard unlink(path) == 0 else { throw WALError.io("cannot remove segment", path, errno: errno) }
        }
    }

    /// The segment numbers present, ascending.
    public func segments() throws(WALError) -> [Int] { try Self.segments(in: directory) }

    /// The file of segment `segment`.
    public func path(of segment: Int) -> String { Self.path(directory, segment) }

    private func rotate(_ w: inout Writer) throws(WALError) {
        if fdatasync(w.fd) != 0 { throw WALError.io("cannot sync segment", Self.path(directory, w.segment), errno: errno) }
        close(w.fd)
        let next = w.segment + 1
        let path = Self.path(directory, next)
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WALError.io("cannot create segment", path, errno: errno) }
        w = Writer(fd: fd, segment: next, offset: 0)
        Self.syncDirectory(directory)
    }

    private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, segment: Int) throws(WALError) {
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw WALError.io("cannot write segment", Self.path(directory, segment), errno: errno)
            }
            done += n
        }
    }

    static func path(_ directory: String, _ segment: Int) -> String {
        var name = String(segment)
        if name.count < 8 { name = String(repeating: "0", count: 8 - name.count) + name }
        return directory + "/" + name
    }

    static func segments(in directory: String) throws(WALError) -> [Int] {
        guard let dir = opendir(directory) else { throw WALError.io("cannot list", directory, errno: errno) }
        defer { closedir(dir) }
        var out: [Int] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.count == 8, let n = Int(name), name.allSatisfy(\.isNumber) { out.append(n) }
        }
        return out.sorted()
    }

    static func makeDirectory(_ path: String) throws(WALError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0, errno != EEXIST {
                throw WALError.io("cannot create directory", current, errno: errno)
            }
        }
    }

    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }
}
