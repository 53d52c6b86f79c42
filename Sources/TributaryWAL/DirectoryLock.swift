import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An exclusive lock on a data directory, as Prometheus takes on its `--storage.tsdb.path`:
/// an `flock` on the file `lock` inside it, held while the process writes there.
///
/// Why: two processes appending to one WAL interleave records and segment numbers, and each
/// replays only what it wrote itself; the second receiver or agent started on a directory by
/// mistake (a copied unit file, a test harness) would corrupt acknowledged data without a
/// word. The kernel drops an `flock` when its process ends, however it ends, so a crash never
/// leaves a directory locked; the file left behind only tells the next start that the last
/// one did not stop cleanly.
public final class DirectoryLock: @unchecked Sendable {
    public let path: String
    /// The lock file was there when this lock was taken: the process before did not release
    /// it (a crash, a kill, a power loss).
    public let foundStale: Bool
    private let released = NSLock()
    private var fd: Int32

    /// Locks `directory` (made if missing), or fails naming the process that holds it.
    public init(directory: String) throws(WALError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw WALError(.io, "cannot create data directory \(directory): \(error.localizedDescription)")
        }
        path = directory + "/lock"
        var existed = access(path, F_OK) == 0
        // A holder that released between our open and our flock removed the name we opened:
        // locking that unlinked file would let a third process lock a new one. Checked, and
        // tried again on the new file.
        for _ in 0..<8 {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw WALError.io("cannot open lock file", path, errno: errno) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                let failure = errno
                let holder = Self.holder(fd)
                close(fd)
                if failure == EWOULDBLOCK {
                    throw WALError(
                        .io,
                        "lock DB directory \(path): held by \(holder.map { "process \($0)" } ?? "another process"); "
                            + "another receiver or agent uses this data directory")
                }
                throw WALError.io("cannot lock", path, errno: failure)
            }
            var opened = stat()
            var named = stat()
            if fstat(fd, &opened) == 0, stat(path, &named) == 0, opened.st_ino == named.st_ino, opened.st_dev == named.st_dev {
                self.fd = fd
                foundStale = existed
                Self.record(fd)
                return
            }
            close(fd)
            existed = false
        }
        throw WALError(.io, "lock DB directory \(path): the lock file kept changing while it was taken")
    }

    /// Unlocks and removes the lock file (a clean stop). Later calls do nothing; dropping the
    /// last reference does the same.
    public func release() {
        released.lock()
        defer { released.unlock() }
        guard fd >= 0 else { return }
        // Removed while still held, so no one can lock the name this process is giving up
        // before it is gone.
        unlink(path)
        close(fd)
        fd = -1
    }

    deinit { release() }

    /// Writes this process's ID into the lock file, for the message another process gets.
    private static func record(_ fd: Int32) {
        let text = Array("\(getpid())\n".utf8)
        guard ftruncate(fd, 0) == 0 else { return }
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    /// The process ID the holder wrote, if it wrote one.
    private static func holder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
