import Synchronization
import TributaryModel

#if canImport(Glibc)
    import Glibc
#endif

/// The label names and values of the head's series, each string stored once: a series keeps
/// varint references into this table (about 20 bytes for node_exporter's labels) instead of
/// its own copy of the flat label bytes (about 130 bytes with the array's header).
///
/// A symbol is kept in the flat-label encoding (`uvarint(length) bytes`), so a series' labels
/// are rebuilt by copying its symbols one after another, and compared with a request's flat
/// labels without decoding either. Symbols are counted by the series that use them and freed
/// with the last one.
///
/// Concurrency: `intern` and `release` take the table's lock (series creation and removal,
/// under the head's commit lock anyway). Reading a symbol takes no lock: a reader reads the
/// references of a series it holds under that series' stripe lock and finds not removed, and
/// the head frees a series' symbols only after marking it removed under that lock.
final class HeadSymbols: @unchecked Sendable {
    private static let segmentBits = 12
    private static let segmentSize = 1 << segmentBits
    /// 2^30 symbols: far beyond any head that fits in memory.
    private static let maxSegments = 1 << 18

    /// Segments of pointers to each symbol: a 4-byte encoded length, then the encoding.
    /// Allocated zeroed and never moved, so lock-free readers see stable addresses.
    private let directory: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutableRawPointer?>?>
    private let table = Lock(Table())
    private let heldBytes = Atomic<Int>(0)

    private struct Table {
        /// Open addressing over symbol IDs + 1 (0: empty), by the hash of the encoding.
        var slots: [UInt32] = Array(repeating: 0, count: 1024)
        var count = 0
        var next: UInt32 = 0
        var free: [UInt32] = []
        /// Per ID: the number of series using the symbol, and its hash.
        var users: [UInt32] = []
        var hashes: [UInt64] = []
    }

    init() {
        let raw = calloc(Self.maxSegments, MemoryLayout<UnsafeMutablePointer<UnsafeMutableRawPointer?>?>.stride)
        directory = raw.unsafelyUnwrapped.bindMemory(to: UnsafeMutablePointer<UnsafeMutableRawPointer?>?.self, capacity: Self.maxSegments)
    }

    deinit {
        for segment in 0..<Self.maxSegments {
            guard let entries = directory[segment] else { continue }
            for i in 0..<Self.segmentSize { free(entries[i]) }
            free(entries)
        }
        free(directory)
    }

    /// Bytes the symbols take (their encodings and allocation headers), for the head's estimate.
    var bytes: Int { heldBytes.load(ordering: .relaxed) }

    /// The encoding of symbol `id` (`uvarint(length) bytes`).
    @inline(__always)
    func encoded(_ id: UInt32) -> UnsafeRawBufferPointer {
        let entry = directory[Int(id >> UInt32(Self.segmentBits))].unsafelyUnwrapped[Int(id) & (Self.segmentSize - 1)].unsafelyUnwrapped
        return UnsafeRawBufferPointer(start: entry + 4, count: Int(entry.loadUnaligned(as: UInt32.self)))
    }

    /// The references of `labels` (flat encoding): `uvarint(symbol)` per name and per value.
    /// Each symbol gains a user.
    func intern(_ labels: UnsafeRawBufferPointer) -> [UInt8] {
        var refs: [UInt8] = []
        refs.reserveCapacity(labels.count / 4)
        table.withLock { t in
            var offset = 0
            while offset < labels.count {
                let start = offset
                guard FlatLabels.readString(labels, at: &offset) != nil else { break }
                let id = intern(UnsafeRawBufferPointer(rebasing: labels[start..<offset]), &t)
                FlatLabels.appendUVarint(UInt64(id), to: &refs)
            }
        }
        return refs
    }

    /// Drops one user of each symbol `refs` names; symbols left without users are freed.
    func release(_ refs: UnsafeRawBufferPointer) {
        table.withLock { t in
            var offset = 0
            while let id = Self.readRef(refs, at: &offset) {
                t.users[Int(id)] -= 1
                if t.users[Int(id)] == 0 { remove(id, &t) }
            }
        }
    }

    /// The flat labels `refs` name.
    func labels(_ refs: UnsafeRawBufferPointer) -> Labels {
        var size = 0
        var offset = 0
        while let id = Self.readRef(refs, at: &offset) { size += encoded(id).count }
        // Allocated as `reserveCapacity` does, not through `init(unsafeUninitializedCapacity:)`,
        // which looks up the array storage's type at run time on every call (once per series
        // a query reads; see `Array.filled(_:count:)`).
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        bytes.appendWritten(atMost: size) { start in
            var at = 0
            var offset = 0
            while let id = Self.readRef(refs, at: &offset) {
                let symbol = encoded(id)
                UnsafeMutableRawPointer(start + at).copyMemory(from: symbol.baseAddress.unsafelyUnwrapped, byteCount: symbol.count)
                at += symbol.count
            }
            return at
        }
        return Labels(trustedBytes: bytes)
    }

    /// Whether `refs` name exactly the flat labels `flat`.
    @inline(__always)
    func equal(_ refs: UnsafeRawBufferPointer, _ flat: UnsafeRawBufferPointer) -> Bool {
        var at = 0
        var offset = 0
        while let id = Self.readRef(refs, at: &offset) {
            let symbol = encoded(id)
            guard at + symbol.count <= flat.count,
                memcmp(flat.baseAddress.unsafelyUnwrapped + at, symbol.baseAddress.unsafelyUnwrapped, symbol.count) == 0
            else { return false }
            at += symbol.count
        }
        return at == flat.count
    }

    @inline(__always)
    static func readRef(_ refs: UnsafeRawBufferPointer, at offset: inout Int) -> UInt32? {
        guard offset < refs.count else { return nil }
        var value: UInt32 = 0
        var shift: UInt32 = 0
        while offset < refs.count {
            let byte = refs[offset]
            offset += 1
            value |= UInt32(byte & 0x7F) << shift
            if byte < 0x80 { break }
            shift += 7
        }
        return value
    }

    // MARK: - Table (under the lock)

    private func intern(_ symbol: UnsafeRawBufferPointer, _ t: inout Table) -> UInt32 {
        let hash = StableHash.hash(symbol)
        let mask = t.slots.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while t.slots[i] != 0 {
            let id = t.slots[i] - 1
            let known = encoded(id)
            if t.hashes[Int(id)] == hash, known.count == symbol.count,
                memcmp(known.baseAddress.unsafelyUnwrapped, symbol.baseAddress.unsafelyUnwrapped, symbol.count) == 0
            {
                t.users[Int(id)] += 1
                return id
            }
            i = (i + 1) & mask
        }
        let id: UInt32
        if let reused = t.free.popLast() {
            id = reused
        } else {
            id = t.next
            precondition(Int(id) < Self.maxSegments << Self.segmentBits, "head symbol table full")
            t.next += 1
            t.users.append(0)
            t.hashes.append(0)
        }
        t.users[Int(id)] = 1
        t.hashes[Int(id)] = hash
        store(id, symbol)
        t.slots[i] = id + 1
        t.count += 1
        if t.count * 10 > t.slots.count * 7 { grow(&t) }
        return id
    }

    private func store(_ id: UInt32, _ symbol: UnsafeRawBufferPointer) {
        let segment = Int(id >> UInt32(Self.segmentBits))
        if directory[segment] == nil {
            let raw = calloc(Self.segmentSize, MemoryLayout<UnsafeMutableRawPointer?>.stride)
            directory[segment] = raw.unsafelyUnwrapped.bindMemory(to: UnsafeMutableRawPointer?.self, capacity: Self.segmentSize)
        }
        let entry = malloc(4 + symbol.count).unsafelyUnwrapped
        entry.storeBytes(of: UInt32(symbol.count), as: UInt32.self)
        (entry + 4).copyMemory(from: symbol.baseAddress.unsafelyUnwrapped, byteCount: symbol.count)
        directory[segment].unsafelyUnwrapped[Int(id) & (Self.segmentSize - 1)] = entry
        heldBytes.add(Self.footprint(symbol.count), ordering: .relaxed)
    }

    private func remove(_ id: UInt32, _ t: inout Table) {
        let mask = t.slots.count - 1
        var i = Int(truncatingIfNeeded: t.hashes[Int(id)]) & mask
        while t.slots[i] != id + 1 { i = (i + 1) & mask }
        // Backward-shift deletion keeps every later entry of the probe run reachable.
        var j = i
        while true {
            j = (j + 1) & mask
            if t.slots[j] == 0 { break }
            let home = Int(truncatingIfNeeded: t.hashes[Int(t.slots[j] - 1)]) & mask
            let homeInRange = i <= j ? (home > i && home <= j) : (home > i || home <= j)
            if !homeInRange {
                t.slots[i] = t.slots[j]
                i = j
            }
        }
        t.slots[i] = 0
        t.count -= 1
        let segment = directory[Int(id >> UInt32(Self.segmentBits))].unsafelyUnwrapped
        let entry = segment[Int(id) & (Self.segmentSize - 1)]
        heldBytes.subtract(Self.footprint(Int(entry.unsafelyUnwrapped.loadUnaligned(as: UInt32.self))), ordering: .relaxed)
        free(entry)
        segment[Int(id) & (Self.segmentSize - 1)] = nil
        t.free.append(id)
    }

    private func grow(_ t: inout Table) {
        var slots = [UInt32](repeating: 0, count: t.slots.count * 2)
        let mask = slots.count - 1
        for slot in t.slots where slot != 0 {
            var i = Int(truncatingIfNeeded: t.hashes[Int(slot - 1)]) & mask
            while slots[i] != 0 { i = (i + 1) & mask }
            slots[i] = slot
        }
        t.slots = slots
    }

    /// A symbol's allocation as malloc rounds it (8 bytes of header, 16-byte steps) plus its
    /// directory entry.
    private static func footprint(_ encodedCount: Int) -> Int {
        max(32, (4 + encodedCount + 8 + 15) & ~15) + 8
    }
}
