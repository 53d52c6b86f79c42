import TributaryModel

/// The series of one target, found by the raw bytes of their exposition line (`name{labels}`),
/// so a series seen before costs one hash and one compare, not a label parse and relabelling.
/// Entries live in one array, chained per hash through `next`, and are updated in place.
struct ScrapeCache {
    struct Entry {
        var key: [UInt8]
        var id: UInt32
        /// Dropped by metric_relabel_configs: remembered so it is not relabelled each scrape.
        var dropped: Bool
        var lastSeen: Int
        var next: Int32
    }

    private(set) var entries: [Entry] = []
    private var heads: [UInt64: Int32] = [:]

    var count: Int { entries.count }

    static func hash(_ key: ArraySlice<UInt8>) -> UInt64 {
        key.withUnsafeBytes { StableHash.hash($0) }
    }

    /// The entry for `key`, marked seen in `iteration`; nil when new. `duplicate` is set when
    /// the series was already seen in this iteration.
    mutating func lookup(_ key: UnsafeRawBufferPointer, hash: UInt64, iteration: Int) -> (id: UInt32, dropped: Bool, duplicate: Bool)? {
        var i = heads[hash] ?? -1
        while i >= 0 {
            let index = Int(i)
            let same = entries[index].key.count == key.count && entries[index].key.withUnsafeBytes { FlatLabels.equal($0, key) }
            if same {
                let duplicate = entries[index].lastSeen == iteration
                entries[index].lastSeen = iteration
                return (entries[index].id, entries[index].dropped, duplicate)
            }
            i = entries[index].next
        }
        return nil
    }

    mutating func insert(key: UnsafeRawBufferPointer, hash: UInt64, id: UInt32, dropped: Bool, iteration: Int) {
        insert(Entry(key: Array(key), id: id, dropped: dropped, lastSeen: iteration, next: -1), hash: hash)
    }

    private mutating func insert(_ entry: Entry, hash: UInt64) {
        var e = entry
        e.next = heads[hash] ?? -1
        heads[hash] = Int32(entries.count)
        entries.append(e)
    }

    /// Keeps the entries `keep` accepts and rebuilds the chains.
    private mutating func filter(_ keep: (Entry) -> Bool) {
        let old = entries
        entries.removeAll(keepingCapacity: true)
        heads.removeAll(keepingCapacity: true)
        for e in old where keep(e) {
            insert(e, hash: Self.hash(e.key[...]))
        }
    }

    /// Forgets the entries inserted for `ids` (a failed scrape did not log their series).
    mutating func remove(ids: Set<UInt32>, insertedIn iteration: Int) {
        filter { !($0.lastSeen == iteration && (ids.contains($0.id) || ($0.dropped && $0.id == 0))) }
    }

    /// Ids of the kept series seen in `iteration - 1` and not in `iteration` (they get stale
    /// markers); entries unseen for `forgetAfter` iterations are removed.
    mutating func sweep(iteration: Int, forgetAfter: Int) -> [UInt32] {
        var ended: [UInt32] = []
        var forget = false
        for e in entries {
            if e.lastSeen == iteration - 1, !e.dropped { ended.append(e.id) }
            if iteration - e.lastSeen >= forgetAfter { forget = true }
        }
        if forget { filter { iteration - $0.lastSeen < forgetAfter } }
        return ended
    }

    /// Every kept series seen since `iteration` (a target that goes down ends them all, those
    /// a failed scrape's partial parse touched included).
    func live(since iteration: Int) -> [UInt32] {
        entries.filter { $0.lastSeen >= iteration && !$0.dropped }.map(\.id)
    }
}
