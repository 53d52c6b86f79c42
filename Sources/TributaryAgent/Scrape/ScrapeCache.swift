import TributaryModel

/// The series of one target, found by the raw bytes of their exposition line (`name{labels}`),
/// so a series seen before costs one hash and one compare, not a label parse and relabelling.
struct ScrapeCache {
    struct Entry {
        var key: [UInt8]
        var id: UInt32
        /// Dropped by metric_relabel_configs: remembered so it is not relabelled each scrape.
        var dropped: Bool
        var lastSeen: Int
    }

    private(set) var entries: [UInt64: [Entry]] = [:]
    private(set) var count = 0

    static func hash(_ key: ArraySlice<UInt8>) -> UInt64 {
        key.withUnsafeBytes { StableHash.hash($0) }
    }

    /// The entry for `key`, marked seen in `iteration`; nil when new. `duplicate` is set when
    /// the series was already seen in this iteration.
    mutating func lookup(_ key: ArraySlice<UInt8>, hash: UInt64, iteration: Int) -> (entry: Entry, duplicate: Bool)? {
        guard var chain = entries[hash] else { return nil }
        for i in chain.indices where chain[i].key.count == key.count && chain[i].key.elementsEqual(key) {
            let duplicate = chain[i].lastSeen == iteration
            chain[i].lastSeen = iteration
            let entry = chain[i]
            entries[hash] = chain
            return (entry, duplicate)
        }
        return nil
    }

    mutating func insert(_ entry: Entry, hash: UInt64) {
        entries[hash, default: []].append(entry)
        count += 1
    }

    /// Forgets the entries inserted for `ids` (a failed scrape did not log their series).
    mutating func remove(ids: Set<UInt32>, insertedIn iteration: Int) {
        for (hash, chain) in entries {
            let keep = chain.filter { !($0.lastSeen == iteration && (ids.contains($0.id) || ($0.dropped && $0.id == 0))) }
            count -= chain.count - keep.count
            entries[hash] = keep.isEmpty ? nil : keep
        }
    }

    /// Ids of the kept series seen in `iteration - 1` and not in `iteration` (they get stale
    /// markers); entries unseen for `forgetAfter` iterations are removed.
    mutating func sweep(iteration: Int, forgetAfter: Int) -> [UInt32] {
        var ended: [UInt32] = []
        for (hash, chain) in entries {
            var keep: [Entry] = []
            for e in chain {
                if e.lastSeen == iteration - 1, !e.dropped { ended.append(e.id) }
                if iteration - e.lastSeen < forgetAfter { keep.append(e) } else { count -= 1 }
            }
            entries[hash] = keep.isEmpty ? nil : keep
        }
        return ended
    }

    /// Every kept series seen since `iteration` (a target that goes down ends them all, those
    /// a failed scrape's partial parse touched included).
    func live(since iteration: Int) -> [UInt32] {
        entries.values.flatMap { $0 }.filter { $0.lastSeen >= iteration && !$0.dropped }.map(\.id)
    }
}
