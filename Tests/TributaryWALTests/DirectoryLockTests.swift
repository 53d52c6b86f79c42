import Foundation
import Testing

@testable import TributaryWAL

/// One process per data directory: the lock file, its release and what the second opener is
/// told. `flock` locks belong to open file descriptions, so two locks taken in this one
/// process conflict as two processes' would.
@Suite struct DirectoryLockTests {
    func tempDir() -> String { NSTemporaryDirectory() + "tributary-lock-" + UUID().uuidString + "/data" }

    @Test func aSecondLockIsRefusedNamingTheHolder() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent) }
        let first = try DirectoryLock(directory: dir)
        #expect(!first.foundStale, "a new directory has no lock file left behind")
        #expect(FileManager.default.fileExists(atPath: dir + "/lock"))
        do {
            _ = try DirectoryLock(directory: dir)
            Issue.record("a second lock on a held directory was granted")
        } catch {
            #expect(error.message.contains("lock DB directory \(dir)/lock"), "\(error)")
            #expect(error.message.contains("process \(getpid())"), "names the holder: \(error)")
        }
        withExtendedLifetime(first) {}
    }

    @Test func releaseRemovesTheFileAndLetsTheNextIn() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent) }
        let first = try DirectoryLock(directory: dir)
        first.release()
        first.release()  // twice is harmless
        #expect(!FileManager.default.fileExists(atPath: dir + "/lock"), "a clean stop leaves no lock file")
        let second = try DirectoryLock(directory: dir)
        #expect(!second.foundStale)
        second.release()
    }

    @Test func droppingTheLastReferenceReleases() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent) }
        do { _ = try DirectoryLock(directory: dir) }
        let again = try DirectoryLock(directory: dir)
        again.release()
    }

    /// A file left by a process that was killed does not lock anyone out (the kernel dropped
    /// its lock), and is noticed.
    @Test func aLeftoverFileIsTakenOverAndReported() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "12345\n".write(toFile: dir + "/lock", atomically: false, encoding: .utf8)
        let lock = try DirectoryLock(directory: dir)
        #expect(lock.foundStale)
        #expect(try String(contentsOfFile: dir + "/lock", encoding: .utf8) == "\(getpid())\n", "the file now names this process")
        lock.release()
    }

    @Test func aDirectoryThatCannotBeMadeIsAClearError() throws {
        let file = NSTemporaryDirectory() + "tributary-lock-file-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "x".write(toFile: file, atomically: false, encoding: .utf8)
        #expect(throws: WALError.self) { _ = try DirectoryLock(directory: file + "/data") }
    }
}
