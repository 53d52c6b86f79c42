import TributaryModel

/// Label sets numbered in the order first seen, found by their flat bytes: a set already
/// seen costs a hash and a byte comparison, not a `Labels` made and hashed for the lookup.
/// Aggregations find each input series' group so, and binary operators each side's match
/// signature (a `Labels` made per series and hashed by `Hasher` was a fifth of a one-step
/// `sum by (group)`'s work per series, callgrind).
///
/// Sets are found through a table of their own hashes (open addressing, linear probing): a
/// dictionary keyed by the hash hashed it again (SipHash; a lookup took twice the
/// instructions). Sets whose hashes collide are told apart by their bytes. `Hash` is
/// ``StableLabelHash`` except in tests, which force collisions.
struct LabelSetIndex<Hash: LabelSetHash> {
    /// Each slot holds a set's number plus one, or 0 when empty; never more than half full.
    private var slots = [Int](repeating: 0, count: 16)
    /// The hash of each set, by number.
    private var hashes: [UInt64] = []
    /// The sets, by number.
    private(set) var sets: [Labels] = []

    /// The number of the set whose flat encoding is `bytes`, added when new.
    mutating func number(of bytes: [UInt8]) -> (number: Int, isNew: Bool) {
        let hash = bytes.withUnsafeBytes { Hash.hash($0) }
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while slots[i] != 0 {
            let n = slots[i] - 1
            if hashes[n] == hash, Self.same(sets[n].bytes, bytes) { return (n, false) }
            i = (i + 1) & mask
        }
        let n = sets.count
        slots[i] = n + 1
        hashes.append(hash)
        sets.append(Labels(trustedBytes: bytes))
        if 2 * sets.count > slots.count { grow() }
        return (n, true)
    }

    /// Twice the slots, every set placed again by its hash.
    private mutating func grow() {
        slots = [Int](repeating: 0, count: 2 * slots.count)
        let mask = slots.count - 1
        for (n, hash) in hashes.enumerated() {
            var i = Int(truncatingIfNeeded: hash) & mask
            while slots[i] != 0 { i = (i + 1) & mask }
            slots[i] = n + 1
        }
    }

    private static func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBytes { a in b.withUnsafeBytes { b in FlatLabels.equal(a, b) } }
    }
}

/// How ``LabelSetIndex`` hashes a set's bytes.
protocol LabelSetHash {
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64
}

/// ``StableHash``, what every index outside tests uses.
enum StableLabelHash: LabelSetHash {
    @inline(__always) static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 { StableHash.hash(bytes) }
}
