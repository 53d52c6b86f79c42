import TributaryModel

/// Label sets numbered in the order first seen, found by their flat bytes: a set already
/// seen costs a hash and a byte comparison, not a `Labels` made and hashed for the lookup.
/// Aggregations find each input series' group so, and binary operators each side's match
/// signature (a `Labels` made per series and hashed by `Hasher` was a fifth of a one-step
/// `sum by (group)`'s work per series, callgrind).
///
/// Sets whose hashes collide are chained and told apart by their bytes. `Hash` is
/// ``StableLabelHash`` except in tests, which force collisions to exercise the chain.
struct LabelSetIndex<Hash: LabelSetHash> {
    private var firstWithHash: [UInt64: Int] = [:]
    /// For each set, the previous set with the same hash (-1: none).
    private var sameHash: [Int] = []
    /// The sets, by number.
    private(set) var sets: [Labels] = []

    /// The number of the set whose flat encoding is `bytes`, added when new.
    mutating func number(of bytes: [UInt8]) -> (number: Int, isNew: Bool) {
        let hash = bytes.withUnsafeBytes { Hash.hash($0) }
        let chain = firstWithHash[hash] ?? -1
        var n = chain
        while n >= 0, !Self.same(sets[n].bytes, bytes) { n = sameHash[n] }
        if n >= 0 { return (n, false) }
        n = sets.count
        sameHash.append(chain)
        firstWithHash[hash] = n
        sets.append(Labels(trustedBytes: bytes))
        return (n, true)
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
