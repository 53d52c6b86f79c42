import Foundation
import Glibc
import Logging
import Testing
import TributaryModel

@testable import TributaryWAL

/// The tail reader follows a log being written: records in order across segment cuts, a torn
/// record left for later, removed segments skipped, damage in a left segment skipped and counted.
@Suite struct WALTailReaderTests {
    static func samples(_ reader: WALTailReader) throws -> [Int64] {
        var out: [Int64] = []
        while try reader.read(
            maxBytes: 4096,
            { kind, payload, _ in
                if kind == .samples { _ = RecordCodec.decodeSamples(payload) { _, s in out.append(s.timestamp) } }
            }) > 0
        {}
        return out
    }

    static func record(_ t: Int64) -> [UInt8] {
        var buffer: [UInt8] = []
        RecordCodec.appendSamples(ids: [1], samples: [Sample(timestamp: t, value: 1)], to: &buffer)
        return buffer
    }

    @Test func followsTheWriterAcrossCutsAndRemovals() throws {
        let dir = NSTemporaryDirectory() + "tributary-tail-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wal = try WAL(directory: dir, options: .init(segmentSize: 1 << 20, fsync: .batch))
        let first = try #require(try wal.segments().first)
        let reader = WALTailReader(directory: dir, from: WALPosition(segment: first, offset: 0), logger: Logger(label: "test"))
        #expect(try Self.samples(reader) == [])
        for t in 1...3 { try wal.log(Self.record(Int64(t))) }
        #expect(try Self.samples(reader) == [1, 2, 3])
        _ = try wal.cut()
        #expect(try Self.samples(reader) == [], "an empty new segment")
        try wal.log(Self.record(4))
        _ = try wal.cut()
        try wal.log(Self.record(5))
        #expect(try Self.samples(reader) == [4, 5], "on through two cuts")
        // A record half written is left until it is whole.
        let whole = Self.record(6)
        let segment = try #require(try wal.segments().last)
        let path = WAL.path(dir, segment)
        let fd = open(path, O_WRONLY | O_APPEND)
        #expect(fd >= 0)
        _ = whole.withUnsafeBytes { write(fd, $0.baseAddress, 5) }
        #expect(try Self.samples(reader) == [])
        _ = whole.withUnsafeBytes { write(fd, $0.baseAddress! + 5, whole.count - 5) }
        close(fd)
        #expect(try Self.samples(reader) == [6])
    }

    @Test func skipsRemovedSegmentsAndDamage() throws {
        let dir = NSTemporaryDirectory() + "tributary-tail-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wal = try WAL(directory: dir, options: .init(segmentSize: 1 << 20, fsync: .batch))
        let first = try #require(try wal.segments().first)
        try wal.log(Self.record(1))
        _ = try wal.cut()
        try wal.log(Self.record(2))
        _ = try wal.cut()
        try wal.log(Self.record(3))
        // A reader that starts in a segment already removed goes on with the next one kept.
        try wal.truncate(before: first + 1)
        let late = WALTailReader(directory: dir, from: WALPosition(segment: first, offset: 0), logger: Logger(label: "test"))
        #expect(try Self.samples(late) == [2, 3])
        // Damage in a segment the writer has left: the rest of it is skipped and counted.
        let damaged = WAL.path(dir, first + 1)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: damaged)))
        bytes[bytes.count - 1] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: damaged))
        let reader = WALTailReader(directory: dir, from: WALPosition(segment: first + 1, offset: 0), logger: Logger(label: "test"))
        #expect(try Self.samples(reader) == [3])
        #expect(reader.skippedBytes == bytes.count)
    }
}
