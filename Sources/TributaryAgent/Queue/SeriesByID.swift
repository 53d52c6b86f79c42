/// The packed labels (``PackedLabels``) of each series, by id. Ids are handed out densely, so
/// an id's slot is an index into one array of 8-byte locations; the bytes sit back to back in
/// blocks of 1 MiB that never move, so there is no per-series allocation or header.
///
/// A removed series leaves its bytes behind until ``compact()`` copies the live ones into new
/// blocks (WAL upkeep calls it when half the bytes are dead).
struct SeriesByID {
    /// Bytes a block holds; a longer label set gets a block of its own.
    static let blockSize = 1 << 20
    /// The largest jump past the highest id a new id may make: an id further out (only a
    /// damaged file could hold one) is refused rather than allocating slots for it.
    static let maxJump = 1 << 24
    /// The longest packed label set kept (the location has 24 bits for the length).
    static let maxLength = (1 << 24) - 1

    /// Changed only through the table that owns it, and the table only under its owner's lock.
    final class Block: @unchecked Sendable {
        let base: UnsafeMutableRawPointer
        let capacity: Int
        var used = 0

        init(capacity: Int) {
            self.capacity = capacity
            base = .allocate(byteCount: capacity, alignment: 16)
        }

        deinit { base.deallocate() }
    }

    private var blocks: [Block] = []
    /// Per id: 0 when absent, else (block + 1) << 48 | offset << 24 | length.
    private var slots: [UInt64] = []
    private(set) var count = 0
    /// Bytes of removed series still in the blocks.
    private(set) var deadBytes = 0
    private var liveBytes = 0

    /// The packed labels of `id`, valid until the table is next changed.
    subscript(id: UInt32) -> UnsafeRawBufferPointer? {
        let i = Int(id)
        guard i < slots.count, slots[i] != 0 else { return nil }
        let slot = slots[i]
        let block = blocks[Int(slot >> 48) - 1]
        return UnsafeRawBufferPointer(start: block.base + Int((slot >> 24) & 0xFF_FFFF), count: Int(slot & 0xFF_FFFF))
    }

    /// Sets the packed labels of `id` (replacing any it had); false, and nothing kept, when `id`
    /// is too far out or the labels too long to hold.
    @discardableResult
    mutating func set(_ id: UInt32, _ packed: UnsafeRawBufferPointer) -> Bool {
        let i = Int(id)
        guard packed.count <= Self.maxLength else { return false }
        if i >= slots.count {
            guard i - slots.count < Self.maxJump else { return false }
            if i >= slots.capacity { slots.reserveCapacity(max(i + 1, slots.capacity + slots.capacity / 2)) }
            slots.append(contentsOf: repeatElement(0, count: i + 1 - slots.count))
        }
        remove(id)
        if blocks.last.map({ $0.capacity - $0.used < packed.count }) ?? true {
            guard blocks.count < 0xFFFF else { return false }
            blocks.append(Block(capacity: max(Self.blockSize, packed.count)))
        }
        let block = blocks[blocks.count - 1]
        if let source = packed.baseAddress { (block.base + block.used).copyMemory(from: source, byteCount: packed.count) }
        slots[i] = UInt64(blocks.count) << 48 | UInt64(block.used) << 24 | UInt64(packed.count)
        block.used += packed.count
        count += 1
        liveBytes += packed.count
        return true
    }

    /// Forgets `id`; its bytes stay until ``compact()``.
    mutating func remove(_ id: UInt32) {
        let i = Int(id)
        guard i < slots.count, slots[i] != 0 else { return }
        let length = Int(slots[i] & 0xFF_FFFF)
        slots[i] = 0
        count -= 1
        liveBytes -= length
        deadBytes += length
    }

    /// Copies the live series into new blocks when at least half the bytes are dead.
    mutating func compactIfWasteful() {
        guard deadBytes > 0, deadBytes >= liveBytes else { return }
        compact()
    }

    mutating func compact() {
        var fresh = SeriesByID()
        fresh.slots.reserveCapacity(slots.count)
        for i in slots.indices {
            if let packed = self[UInt32(i)] { fresh.set(UInt32(i), packed) }
        }
        self = fresh
    }

    /// The highest id held.
    var maxID: UInt32? {
        slots.lastIndex { $0 != 0 }.map { UInt32($0) }
    }

    /// One past the highest id a slot exists for.
    var idLimit: Int { slots.count }

    /// Calls `body` for each series with an id in `ids`, in id order.
    func forEach(in ids: Range<Int>, _ body: (UInt32, UnsafeRawBufferPointer) -> Void) {
        for i in ids.clamped(to: 0..<slots.count) {
            if let packed = self[UInt32(i)] { body(UInt32(i), packed) }
        }
    }
}
