import TributaryModel
import TributaryWire

/// The packed labels (``PackedLabels``) of each series, by id, each distinct label stored once.
///
/// A series' packed labels are its labels' fields one after another (tag, length, `Label`), and
/// most of them repeat from series to series: the metric name, `job`, `instance`, the external
/// labels. So a series is kept as the numbers of its labels (4 bytes each), and each distinct
/// label's bytes once, in ``LabelPieces`` (Prometheus's TSDB keeps its symbols the same way).
/// At 100k series of 6 labels that is about 30 bytes a series instead of 120.
///
/// Ids are handed out densely, so an id's slot is an index into one array. A removed series
/// leaves its numbers, and labels only it used, behind until ``compact()`` rebuilds the table
/// from the live series (WAL upkeep calls ``compactIfWasteful()``).
struct SeriesByID {
    /// The largest jump past the highest id a new id may make: an id further out (only a
    /// damaged file could hold one) is refused rather than allocating slots for it.
    static let maxJump = 1 << 24

    /// Per id: 0 when absent, else (offset in `refs` + 1) << 24 | number of labels.
    private var slots: [UInt64] = []
    /// The label numbers of every series, back to back.
    private var refs: [UInt32] = []
    private var pieces = LabelPieces()
    private(set) var count = 0
    /// Label numbers of removed series still in `refs`, and those of live ones.
    private(set) var deadRefs = 0
    private var liveRefs = 0

    /// Distinct labels held.
    var labelCount: Int { pieces.count }

    func contains(_ id: UInt32) -> Bool {
        Int(id) < slots.count && slots[Int(id)] != 0
    }

    /// The packed labels of `id`, put together in `scratch`: valid until `scratch` is next used.
    func bytes(_ id: UInt32, _ scratch: ScratchBuffer) -> UnsafeRawBufferPointer? {
        guard contains(id) else { return nil }
        let slot = slots[Int(id)]
        let first = Int(slot >> 24) - 1, end = first + Int(slot & 0xFF_FFFF)
        var size = 0
        for k in first..<end { size += pieces.span(refs[k]).count }
        let out = scratch.reserve(size)
        var at = 0
        pieces.bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            for k in first..<end {
                let (start, length) = pieces.span(refs[k])
                (out + at).copyMemory(from: base + start, byteCount: length)
                at += length
            }
        }
        return UnsafeRawBufferPointer(start: out, count: size)
    }

    /// Sets the packed labels of `id` (replacing any it had); false, and nothing kept, when `id`
    /// is too far out, or the bytes are not packed labels or too many to hold.
    @discardableResult
    mutating func set(_ id: UInt32, _ packed: UnsafeRawBufferPointer) -> Bool {
        let i = Int(id)
        if i >= slots.count {
            guard i - slots.count < Self.maxJump else { return false }
            if i >= slots.capacity { slots.reserveCapacity(max(i + 1, slots.capacity + slots.capacity / 2)) }
            slots.append(contentsOf: repeatElement(0, count: i + 1 - slots.count))
        }
        let first = refs.count
        var reader = ProtoReader(packed)
        while !reader.atEnd {
            let start = reader.offset
            guard reader.key() == 0x0A, reader.lengthDelimited() != nil,
                let number = pieces.intern(UnsafeRawBufferPointer(rebasing: packed[start..<reader.offset]))
            else {
                refs.removeSubrange(first...)
                return false
            }
            refs.append(number)
        }
        let labels = refs.count - first
        guard labels < 1 << 24, first + 1 < 1 << 40 else {
            refs.removeSubrange(first...)
            return false
        }
        remove(id)
        slots[i] = UInt64(first + 1) << 24 | UInt64(labels)
        count += 1
        liveRefs += labels
        return true
    }

    /// Forgets `id`; its label numbers stay until ``compact()``.
    mutating func remove(_ id: UInt32) {
        guard contains(id) else { return }
        let labels = Int(slots[Int(id)] & 0xFF_FFFF)
        slots[Int(id)] = 0
        count -= 1
        liveRefs -= labels
        deadRefs += labels
    }

    /// Rebuilds the table when at least half the label numbers belong to removed series.
    mutating func compactIfWasteful() {
        guard deadRefs > 0, deadRefs >= liveRefs else { return }
        compact()
    }

    /// Rebuilds the table from the live series: removed series' numbers, and labels no live
    /// series uses, are gone.
    mutating func compact() {
        var fresh = SeriesByID()
        fresh.slots.reserveCapacity(slots.count)
        forEach(in: 0..<slots.count) { id, packed in fresh.set(id, packed) }
        self = fresh
    }

    /// The highest id held.
    var maxID: UInt32? {
        slots.lastIndex { $0 != 0 }.map { UInt32($0) }
    }

    /// One past the highest id a slot exists for.
    var idLimit: Int { slots.count }

    /// Calls `body` with each series with an id in `ids` and its packed labels, in id order.
    func forEach(in ids: Range<Int>, _ body: (UInt32, UnsafeRawBufferPointer) -> Void) {
        let scratch = ScratchBuffer()
        for i in ids.clamped(to: 0..<slots.count) {
            if let packed = bytes(UInt32(i), scratch) { body(UInt32(i), packed) }
        }
    }
}

/// Distinct byte strings, each stored once, numbered in order of arrival: every string's bytes
/// back to back in one array, and an open-addressing table (linear probing, at most half full)
/// to find a string's number.
struct LabelPieces {
    private(set) var bytes: [UInt8] = []
    /// String n is `bytes[ends[n - 1] ..< ends[n]]` (from 0 for the first).
    private var ends: [UInt32] = []
    /// Number + 1 of the string hashed to each slot; 0 is empty. Power-of-two sized.
    private var table: [UInt32] = []

    var count: Int { ends.count }

    func span(_ n: UInt32) -> (start: Int, count: Int) {
        let start = n == 0 ? 0 : Int(ends[Int(n) - 1])
        return (start, Int(ends[Int(n)]) - start)
    }

    /// The number of `piece`, added if new; nil when the bytes would pass 4 GiB.
    mutating func intern(_ piece: UnsafeRawBufferPointer) -> UInt32? {
        if table.isEmpty { table = [UInt32](repeating: 0, count: 64) }
        let mask = table.count - 1
        var slot = Int(StableHash.hash(piece) & UInt64(mask))
        while table[slot] != 0 {
            let n = table[slot] - 1
            let (start, length) = span(n)
            if length == piece.count, bytes.withUnsafeBytes({ FlatLabels.equal(UnsafeRawBufferPointer(rebasing: $0[start..<start + length]), piece) }) {
                return n
            }
            slot = (slot + 1) & mask
        }
        guard bytes.count + piece.count <= Int(UInt32.max) else { return nil }
        bytes.append(contentsOf: piece)
        ends.append(UInt32(bytes.count))
        let n = UInt32(ends.count - 1)
        table[slot] = n + 1
        if ends.count * 2 > table.count { rehash() }
        return n
    }

    private mutating func rehash() {
        table = [UInt32](repeating: 0, count: table.count * 2)
        let mask = table.count - 1
        bytes.withUnsafeBytes { raw in
            for n in 0..<UInt32(ends.count) {
                let (start, length) = span(n)
                var slot = Int(StableHash.hash(UnsafeRawBufferPointer(rebasing: raw[start..<start + length])) & UInt64(mask))
                while table[slot] != 0 { slot = (slot + 1) & mask }
                table[slot] = n + 1
            }
        }
    }
}
