import TributaryModel

/// The series of one target, found by the raw bytes of their exposition line (`name{labels}`),
/// so a series seen before costs one hash and one compare, not a label parse and relabelling.
///
/// Memory is what limits an agent's series count, so the layout is flat: every key's bytes sit
/// in one arena, entries are 24 bytes in one array, and an open hash table of entry indexes
/// (kept at most half full) heads chains through `next`. Entries are updated in place.
///
/// A target lists its series in the same order every scrape, and entries are kept in the
/// order first seen, so a lookup first tries the entry after the last one found: most cost one
/// compare of bytes read in order, with no hash and no jump through the table (the table's
/// random reads were most of a lookup's time: cache misses, perf).
struct ScrapeCache {
    struct Entry {
        var keyStart: UInt32
        var keyLength: UInt32
        var id: UInt32
        /// The iteration that last saw the series (truncated: only differences are used).
        var lastSeen: Int32
        var next: Int32
        /// Dropped by metric_relabel_configs: remembered so it is not relabelled each scrape.
        var dropped: Bool
    }

    private(set) var entries: [Entry] = []
    private var keys: [UInt8] = []
    /// Power-of-two sized; -1 is empty.
    private var buckets: [Int32] = []
    /// The last iteration that inserted an entry.
    private var lastInsert: Int32 = 0
    /// The entry after the last one found or inserted.
    private var cursor = 0

    var count: Int { entries.count }

    static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        StableHash.hash(key)
    }

    static func stamp(_ iteration: Int) -> Int32 { Int32(truncatingIfNeeded: iteration) }

    /// The entry for `key`, marked seen in `iteration`; nil when new. `duplicate` is set when
    /// the series was already seen in this iteration.
    mutating func lookup(_ key: UnsafeRawBufferPointer, iteration: Int) -> (id: UInt32, dropped: Bool, duplicate: Bool)? {
        guard !buckets.isEmpty else { return nil }
        if cursor < entries.count, matches(cursor, key) { return found(cursor, iteration) }
        var i = buckets[Int(Self.hash(key) & UInt64(buckets.count - 1))]
        while i >= 0 {
            let index = Int(i)
            if matches(index, key) { return found(index, iteration) }
            i = entries[index].next
        }
        return nil
    }

    private func matches(_ index: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        let e = entries[index]
        return Int(e.keyLength) == key.count
            && keys.withUnsafeBytes { FlatLabels.equal(UnsafeRawBufferPointer(rebasing: $0[Int(e.keyStart)..<Int(e.keyStart) + key.count]), key) }
    }

    private mutating func found(_ index: Int, _ iteration: Int) -> (id: UInt32, dropped: Bool, duplicate: Bool) {
        let now = Self.stamp(iteration)
        let e = entries[index]
        entries[index].lastSeen = now
        cursor = index + 1
        return (e.id, e.dropped, e.lastSeen == now)
    }

    /// Remembers `key`; a key that would overflow the arena's 4 GiB is not remembered (the
    /// series is then looked up as new on each scrape).
    mutating func insert(key: UnsafeRawBufferPointer, id: UInt32, dropped: Bool, iteration: Int) {
        guard keys.count + key.count <= Int(UInt32.max), entries.count < Int(Int32.max) else { return }
        let entry = Entry(keyStart: UInt32(keys.count), keyLength: UInt32(key.count), id: id, lastSeen: Self.stamp(iteration), next: -1, dropped: dropped)
        keys.append(contentsOf: key)
        entries.append(entry)
        lastInsert = Self.stamp(iteration)
        cursor = entries.count
        if (entries.count) * 2 > buckets.count {
            rebuildBuckets()
        } else {
            link(entries.count - 1, hash: Self.hash(key))
        }
    }

    private mutating func link(_ index: Int, hash: UInt64) {
        let b = Int(hash & UInt64(buckets.count - 1))
        entries[index].next = buckets[b]
        buckets[b] = Int32(index)
    }

    private mutating func rebuildBuckets() {
        var size = 16
        while size < entries.count * 2 { size *= 2 }
        buckets = [Int32](repeating: -1, count: size)
        for index in entries.indices {
            let e = entries[index]
            let hash = keys.withUnsafeBytes { Self.hash(UnsafeRawBufferPointer(rebasing: $0[Int(e.keyStart)..<Int(e.keyStart + e.keyLength)])) }
            link(index, hash: hash)
        }
    }

    /// Keeps the entries `keep` accepts, compacting the key arena, and rebuilds the chains.
    private mutating func filter(_ keep: (Entry) -> Bool) {
        let old = entries, oldKeys = keys
        entries.removeAll(keepingCapacity: true)
        keys.removeAll(keepingCapacity: true)
        for var e in old where keep(e) {
            let start = Int(e.keyStart)
            e.keyStart = UInt32(keys.count)
            keys.append(contentsOf: oldKeys[start..<start + Int(e.keyLength)])
            entries.append(e)
        }
        rebuildBuckets()
    }

    private mutating func shrink() {
        if keys.capacity > keys.count + keys.count / 8 + 64 { keys = Self.exact(keys) }
        if entries.capacity > entries.count + entries.count / 8 + 8 { entries = Self.exact(entries) }
    }

    static func exact<T>(_ array: [T]) -> [T] {
        [T](unsafeUninitializedCapacity: array.count) { buffer, initialized in
            initialized = buffer.initialize(fromContentsOf: array)
        }
    }

    /// Forgets the entries inserted for `ids` (a failed scrape did not log their series).
    mutating func remove(ids: Set<UInt32>, insertedIn iteration: Int) {
        let now = Self.stamp(iteration)
        filter { !($0.lastSeen == now && (ids.contains($0.id) || ($0.dropped && $0.id == 0))) }
    }

    /// Ids of the kept series seen in `iteration - 1` and not in `iteration` (they get stale
    /// markers); entries unseen for `forgetAfter` iterations are removed.
    mutating func sweep(iteration: Int, forgetAfter: Int) -> [UInt32] {
        let now = Self.stamp(iteration), previous = Self.stamp(iteration - 1)
        var ended: [UInt32] = []
        var forget = false
        for e in entries {
            if e.lastSeen == previous, !e.dropped { ended.append(e.id) }
            if Int(now &- e.lastSeen) >= forgetAfter { forget = true }
        }
        if forget { filter { Int(now &- $0.lastSeen) < forgetAfter } }
        // Once a target's series stop growing, the arrays give back what doubling left spare.
        if lastInsert != now, lastInsert == previous { shrink() }
        return ended
    }

    /// Every kept series seen since `iteration` (a target that goes down ends them all, those
    /// a failed scrape's partial parse touched included).
    func live(since iteration: Int) -> [UInt32] {
        let since = Self.stamp(iteration)
        return entries.filter { $0.lastSeen &- since >= 0 && !$0.dropped }.map(\.id)
    }
}
