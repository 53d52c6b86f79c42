import Glibc
import Logging

/// A place in the log: a segment and a byte offset in it.
public struct WALPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var segment: Int
    public var offset: Int

    public init(segment: Int, offset: Int) {
        self.segment = segment
        self.offset = offset
    }

    public static func < (a: WALPosition, b: WALPosition) -> Bool {
        (a.segment, a.offset) < (b.segment, b.offset)
    }

    public var description: String { "\(segment):\(offset)" }
}

/// Follows a log another part of the process is appending to: returns the complete records
/// after its position and moves on to the next segment when the writer has. A record that is
/// still being written is left for the next call; a damaged record in a segment the writer has
/// left is skipped with the rest of that segment, logged, and counted.
public final class WALTailReader {
    public let directory: String
    public private(set) var position: WALPosition
    /// Bytes skipped over damage (the writer repairs its own tail at start; this covers the rest).
    public private(set) var skippedBytes = 0
    let logger: Logger
    var buffer: [UInt8] = []

    public init(directory: String, from position: WALPosition, logger: Logger) {
        self.directory = directory
        self.position = position
        self.logger = logger
    }

    /// Reads up to about `maxBytes` of complete records after the position, calling `body` with
    /// each record and the position after it. Returns how many records were read (0: none yet).
    @discardableResult
    public func read(maxBytes: Int, _ body: (Record.Kind, UnsafeRawBufferPointer, WALPosition) -> Void) throws(WALError) -> Int {
        var want = max(maxBytes, 4096)
        while true {
            let path = WAL.path(directory, position.segment)
            let got = try pread(path, offset: position.offset, count: want)
            if got == 0 {
                // The end of this segment (or it is gone): move on when a later one exists. The
                // writer's next segment is the usual answer, found without listing the directory
                // (this runs on every poll of an idle queue).
                let next: Int
                if file != nil, access(WAL.path(directory, position.segment + 1), F_OK) == 0 {
                    next = position.segment + 1
                } else if file != nil, errno == ENOENT {
                    return 0
                } else {
                    let segments = try WAL.segments(in: directory)
                    guard let later = segments.first(where: { $0 > position.segment }) else { return 0 }
                    next = later
                }
                if let file, try fileSize(file, path) > position.offset { continue }
                position = WALPosition(segment: next, offset: 0)
                continue
            }
            var records = 0
            var stop: String?
            buffer.withUnsafeBytes { raw in
                let bytes = UnsafeRawBufferPointer(rebasing: raw[0..<got])
                var offset = 0
                loop: while offset < got {
                    switch Record.read(bytes, at: offset) {
                    case .end:
                        break loop
                    case .invalid(let reason):
                        stop = reason
                        break loop
                    case .record(let kind, let payload, let next):
                        offset = next
                        records += 1
                        body(kind, payload, WALPosition(segment: position.segment, offset: position.offset + next))
                    }
                }
                position.offset += offset
            }
            if records > 0 { return records }
            guard let reason = stop else { return 0 }
            // Nothing complete: either one record larger than what was read, a record the writer
            // is still writing, or damage in a segment the writer has left.
            if got == want { want *= 2; continue }
            let segments = try WAL.segments(in: directory)
            guard let next = segments.first(where: { $0 > position.segment }) else { return 0 }
            let size = try file.map { fd throws(WALError) in try fileSize(fd, path) } ?? position.offset
            logger.error(
                "WAL: skipping a damaged record and the rest of its segment",
                metadata: [
                    "segment": "\(path)", "offset": "\(position.offset)", "reason": "\(reason)", "bytes": "\(size - position.offset)"
                ])
            skippedBytes += size - position.offset
            position = WALPosition(segment: next, offset: 0)
        }
    }

    /// The open segment the reader is in (kept between calls), and its number.
    var file: Int32?
    var fileSegment = -1

    deinit {
        if let file { close(file) }
    }

    func pread(_ path: String, offset: Int, count: Int) throws(WALError) -> Int {
        if fileSegment != position.segment {
            if let file { close(file) }
            file = nil
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                if errno == ENOENT { return 0 }
                throw WALError.io("cannot open segment", path, errno: errno)
            }
            file = fd
            fileSegment = position.segment
        }
        guard let fd = file else { return 0 }
        // Not zero-filled: pages are touched only as pread fills them.
        if buffer.count < count { buffer = [UInt8](unsafeUninitializedCapacity: count) { _, n in n = count } }
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { raw in Glibc.pread(fd, raw.baseAddress.map { $0 + done }, count - done, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw WALError.io("cannot read segment", path, errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    func fileSize(_ fd: Int32, _ path: String) throws(WALError) -> Int {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw WALError.io("cannot stat segment", path, errno: errno) }
        return Int(st.st_size)
    }
}
