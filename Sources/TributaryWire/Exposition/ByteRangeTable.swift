import TributaryModel

/// Values found by byte strings of one body (metric family names, series), the keys being
/// ranges of the body, valid while it is parsed: hashed with ``StableHash`` and compared in
/// place, in an open-addressing table of indexes. The parsers' rules look names up several
/// times a line; a `Dictionary` keyed by `ArraySlice<UInt8>` hashed them a byte at a time
/// (`Hasher`), a quarter of an agent's CPU on a real node_exporter page.
struct ByteRangeTable<Value> {
    private(set) var keys: [Range<Int>] = []
    var values: [Value] = []
    /// Indexes into `keys`, -1 where empty; a power of two, at most half full.
    private var slots = [Int32](repeating: -1, count: 64)

    var count: Int { keys.count }

    /// The index of `key`, if it was added.
    func find(_ key: Range<Int>, in body: UnsafeBufferPointer<UInt8>) -> Int? {
        probe(key, in: body).found
    }

    /// The index of `key`, added with `value` when new.
    mutating func index(of key: Range<Int>, in body: UnsafeBufferPointer<UInt8>, adding value: @autoclosure () -> Value) -> Int {
        let (slot, found) = probe(key, in: body)
        if let found { return found }
        let index = keys.count
        keys.append(key)
        values.append(value())
        slots[slot] = Int32(truncatingIfNeeded: index)
        if keys.count * 2 > slots.count { grow(body) }
        return index
    }

    /// Where `key` is, or the empty slot where it would go.
    private func probe(_ key: Range<Int>, in body: UnsafeBufferPointer<UInt8>) -> (slot: Int, found: Int?) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: Self.hash(key, body)) & mask
        while true {
            let i = Int(slots[slot])
            if i < 0 { return (slot, nil) }
            if ExpositionParser.equal(body, keys[i], key) { return (slot, i) }
            slot = (slot + 1) & mask
        }
    }

    private mutating func grow(_ body: UnsafeBufferPointer<UInt8>) {
        slots = [Int32](repeating: -1, count: slots.count * 2)
        let mask = slots.count - 1
        for (i, key) in keys.enumerated() {
            var slot = Int(truncatingIfNeeded: Self.hash(key, body)) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(truncatingIfNeeded: i)
        }
    }

    private static func hash(_ key: Range<Int>, _ body: UnsafeBufferPointer<UInt8>) -> UInt64 {
        StableHash.hash(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: body[key])))
    }
}
