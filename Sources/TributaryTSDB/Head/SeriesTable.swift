import TributaryModel

/// One stripe's series by label hash: open addressing with linear probing over two flat
/// arrays, no `Hasher` and no reference counting on lookups.
///
/// Why: with `[UInt64: MemSeries]`, hashing the key again (`Hasher`) and retaining/releasing
/// the series took about a quarter of ingest CPU (perf, tributary-bench ingest). Series are
/// kept alive by the head's ID table, so the slots hold them unretained.
struct SeriesTable {
    /// 0 marks an empty slot; a real hash of 0 is stored as 1 (only a probe hint).
    private var hashes: [UInt64] = Array(repeating: 0, count: 8)
    private var slots: [Unmanaged<MemSeries>?] = Array(repeating: nil, count: 8)
    private(set) var count = 0
    /// How many of this stripe's series have a ``ResumeBox`` (``MemSeries/State/box``), at
    /// most ``ResumeBox/perStripe``.
    var resumeBoxes = 0

    @inline(__always)
    static func key(_ hash: UInt64) -> UInt64 { hash == 0 ? 1 : hash }

    /// The series with these labels, or nil.
    @inline(__always)
    func find(_ hash: UInt64, _ labels: LabelsView, _ symbols: HeadSymbols) -> Unmanaged<MemSeries>? {
        let key = Self.key(hash)
        let mask = hashes.count - 1
        var i = Int(truncatingIfNeeded: key >> 7) & mask
        while true {
            let h = hashes[i]
            if h == 0 { return nil }
            if h == key, let s = slots[i],
                s._withUnsafeGuaranteedRef({ series in series.withRefs { symbols.equal($0, labels.bytes) } })
            {
                return s
            }
            i = (i + 1) & mask
        }
    }

    mutating func insert(_ hash: UInt64, _ series: MemSeries) {
        if (count + 1) * 10 > hashes.count * 7 { grow() }
        place(Self.key(hash), Unmanaged.passUnretained(series))
        count += 1
    }

    /// Removes `series` (head garbage collection), shifting later entries of its probe run
    /// back so that lookups still find them.
    mutating func remove(_ hash: UInt64, _ series: MemSeries) {
        let mask = hashes.count - 1
        var i = Int(truncatingIfNeeded: Self.key(hash) >> 7) & mask
        while true {
            if hashes[i] == 0 { return }
            if let s = slots[i], s.toOpaque() == Unmanaged.passUnretained(series).toOpaque() { break }
            i = (i + 1) & mask
        }
        var j = i
        while true {
            j = (j + 1) & mask
            if hashes[j] == 0 { break }
            let home = Int(truncatingIfNeeded: hashes[j] >> 7) & mask
            // Move j into the hole at i unless its home lies cyclically in (i, j].
            let homeInRange = i <= j ? (home > i && home <= j) : (home > i || home <= j)
            if !homeInRange {
                hashes[i] = hashes[j]
                slots[i] = slots[j]
                i = j
            }
        }
        hashes[i] = 0
        slots[i] = nil
        count -= 1
    }

    private mutating func place(_ key: UInt64, _ s: Unmanaged<MemSeries>) {
        let mask = hashes.count - 1
        var i = Int(truncatingIfNeeded: key >> 7) & mask
        while hashes[i] != 0 { i = (i + 1) & mask }
        hashes[i] = key
        slots[i] = s
    }

    private mutating func grow() {
        let oldHashes = hashes, oldSlots = slots
        hashes = Array(repeating: 0, count: oldHashes.count * 2)
        slots = Array(repeating: nil, count: oldHashes.count * 2)
        for (i, h) in oldHashes.enumerated() where h != 0 {
            if let s = oldSlots[i] { place(h, s) }
        }
    }
}
