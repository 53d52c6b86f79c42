import Foundation
import TributaryModel

/// A block's `tombstones` file: time ranges of series deleted by the admin API
/// (`delete_series`) and hidden from reads until `clean_tombstones` (or a compaction) rewrites
/// the block without them. Format as Prometheus's (`Docs/blocks.md`):
///
///     magic 0x0130BA30 (BE32) | version 1 (byte) | entries | CRC-32C of the entries (BE32)
///     entry: series reference (uvarint) | min time (varint) | max time (varint)
///
/// Intervals are closed (`[minTime, maxTime]`); the reference is the series' index reference.
public struct Tombstones: Sendable, Equatable {
    /// A closed time range, in milliseconds.
    public struct Interval: Sendable, Equatable {
        public var minTime: Int64
        public var maxTime: Int64

        public init(_ minTime: Int64, _ maxTime: Int64) {
            self.minTime = minTime
            self.maxTime = maxTime
        }

        public func contains(_ t: Int64) -> Bool { minTime <= t && t <= maxTime }
    }

    static let magic: UInt32 = 0x0130_BA30
    static let fileName = "tombstones"

    /// Sorted, disjoint intervals by series reference.
    public private(set) var bySeries: [UInt32: [Interval]] = [:]

    public init() {}

    public var isEmpty: Bool { bySeries.isEmpty }

    /// Intervals over all series (meta.json's `numTombstones`).
    public var count: Int { bySeries.values.reduce(0) { $0 + $1.count } }

    public func intervals(_ ref: UInt32) -> [Interval]? { bySeries[ref] }

    /// Adds `interval` for `ref`, merged with the ones it overlaps or touches.
    public mutating func add(_ ref: UInt32, _ interval: Interval) {
        bySeries[ref] = Self.adding(interval, to: bySeries[ref] ?? [])
    }

    static func adding(_ new: Interval, to list: [Interval]) -> [Interval] {
        var merged = new
        var out: [Interval] = []
        out.reserveCapacity(list.count + 1)
        var placed = false
        for iv in list {
            // Touching ranges merge too: timestamps are whole milliseconds.
            if iv.maxTime < merged.minTime && iv.maxTime &+ 1 < merged.minTime {
                out.append(iv)
            } else if iv.minTime > merged.maxTime && iv.minTime &- 1 > merged.maxTime {
                if !placed {
                    out.append(merged)
                    placed = true
                }
                out.append(iv)
            } else {
                merged = Interval(min(merged.minTime, iv.minTime), max(merged.maxTime, iv.maxTime))
            }
        }
        if !placed { out.append(merged) }
        return out
    }

    /// The file's bytes, series in reference order.
    func encoded() -> [UInt8] {
        var out = EncodeBuffer()
        out.be32(Self.magic)
        out.bytes.append(1)
        let entries = out.bytes.count
        for ref in bySeries.keys.sorted() {
            for iv in bySeries[ref] ?? [] {
                out.uvarint(UInt64(ref))
                out.varint(iv.minTime)
                out.varint(iv.maxTime)
            }
        }
        out.appendCRC(of: entries..<out.bytes.count)
        return out.bytes
    }

    /// Parses a tombstones file's bytes; every defect names the file and offset.
    package static func decode(_ raw: UnsafeRawBufferPointer, path: String) throws(BlockError) -> Tombstones {
        guard raw.count >= 9 else { throw BlockError("\(path): \(raw.count) bytes, too short for a tombstones file (9 at least)") }
        var d = DecodeBuffer(raw, file: path, to: raw.count - 4)
        let magic = try d.be32("magic number")
        guard magic == Self.magic else { throw d.error("magic number \(String(magic, radix: 16)), not a tombstones file", at: 0) }
        let version = try d.byte("format version")
        guard version == 1 else { throw d.error("tombstones format \(version), only 1 is known", at: 4) }
        var crc = DecodeBuffer(raw, file: path, from: raw.count - 4)
        try crc.checkCRC(of: 5..<(raw.count - 4), "tombstones")
        var out = Tombstones()
        while d.position < d.end {
            let ref = try d.uvarint("series reference")
            let minTime = try d.varint("interval start")
            let maxTime = try d.varint("interval end")
            guard ref <= UInt64(UInt32.max) else { throw d.error("series reference \(ref) out of range") }
            guard minTime <= maxTime else { throw d.error("interval [\(minTime), \(maxTime)] ends before it starts") }
            out.add(UInt32(ref), Interval(minTime, maxTime))
        }
        return out
    }

    /// Reads `directory/tombstones`; a block without the file has none.
    static func read(directory: String) throws(BlockError) -> Tombstones {
        let path = directory + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else { return Tombstones() }
        guard let data = FileManager.default.contents(atPath: path) else { throw BlockError("\(path): cannot read") }
        let bytes = [UInt8](data)
        let parsed: Result<Tombstones, BlockError> = bytes.withUnsafeBytes { raw in
            do throws(BlockError) { return .success(try decode(raw, path: path)) } catch { return .failure(error) }
        }
        return try parsed.get()
    }

    /// Replaces `directory/tombstones` atomically: written to a temporary file, fsynced, renamed.
    func write(directory: String) throws(BlockError) {
        try BlockWriter.replaceFile(directory + "/" + Self.fileName, encoded())
    }
}

extension [Tombstones.Interval] {
    /// Whether `t` lies in one of the intervals.
    func deletes(_ t: Int64) -> Bool { contains { $0.contains(t) } }

    /// `samples` without those the intervals delete.
    func filter(_ samples: [Sample]) -> [Sample] { samples.filter { !deletes($0.timestamp) } }
}
