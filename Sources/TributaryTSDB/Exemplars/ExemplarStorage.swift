import Synchronization
import TributaryModel

/// The exemplars of the head, as Prometheus keeps them: one circular buffer of at most
/// `capacity` exemplars (`storage.exemplars.max_exemplars`) shared by all series, each series'
/// exemplars linked oldest to newest, so a full buffer overwrites the oldest exemplar of all.
///
/// Commits (under the head's commit lock) validate against ``newest(of:)`` and ``add(_:_:_:)``;
/// queries read with ``select(start:end:matching:)``. The buffer's lock is held for one
/// operation at a time, never across I/O.
public final class ExemplarStorage: Sendable {
    struct Entry {
        var series: UInt32
        var exemplar: Exemplar
        /// The next newer exemplar of the same series, or -1.
        var next: Int32
    }

    struct SeriesEntry {
        var labels: Labels
        var oldest: Int32
        var newest: Int32
    }

    struct State {
        var ring: [Entry] = []
        var nextSlot = 0
        var index: [UInt32: SeriesEntry] = [:]
    }

    /// Most exemplars kept.
    public let capacity: Int
    let state = Mutex(State())

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Exemplars held now.
    public var count: Int { state.withLock { $0.ring.count } }

    /// Series with at least one exemplar held.
    public var seriesCount: Int { state.withLock { $0.index.count } }

    /// The newest exemplar of series `id`.
    public func newest(of id: UInt32) -> Exemplar? {
        state.withLock { s in s.index[id].map { s.ring[Int($0.newest)].exemplar } }
    }

    /// True when series `id` holds exactly `exemplar` (a resend of an older one).
    func contains(_ id: UInt32, _ exemplar: Exemplar) -> Bool {
        state.withLock { s in
            var i = s.index[id]?.oldest ?? -1
            while i >= 0 {
                if s.ring[Int(i)].exemplar == exemplar { return true }
                i = s.ring[Int(i)].next
            }
            return false
        }
    }

    /// Adds an exemplar already validated against ``newest(of:)`` (see ``ExemplarCheck``).
    func add(_ id: UInt32, _ labels: Labels, _ exemplar: Exemplar) {
        state.withLock { s in
            let slot = s.nextSlot
            if s.ring.count < capacity {
                s.ring.append(Entry(series: id, exemplar: exemplar, next: -1))
            } else {
                // The slot holds the oldest exemplar of all, so the oldest of its series.
                let old = s.ring[slot]
                if old.next < 0 {
                    s.index[old.series] = nil
                } else {
                    s.index[old.series]?.oldest = old.next
                }
                s.ring[slot] = Entry(series: id, exemplar: exemplar, next: -1)
            }
            if let entry = s.index[id] {
                s.ring[Int(entry.newest)].next = Int32(slot)
                s.index[id]?.newest = Int32(slot)
            } else {
                s.index[id] = SeriesEntry(labels: labels, oldest: Int32(slot), newest: Int32(slot))
            }
            s.nextSlot = (slot + 1) % capacity
        }
    }

    /// The exemplars with timestamps in `start...end` of the series `matching` accepts, each
    /// series' oldest first, series sorted by labels.
    public func select(start: Int64, end: Int64, matching: (LabelsView) -> Bool) -> [(labels: Labels, exemplars: [Exemplar])] {
        var out: [(labels: Labels, exemplars: [Exemplar])] = []
        state.withLock { s in
            for entry in s.index.values where entry.labels.withView(matching) {
                var found: [Exemplar] = []
                var i = entry.oldest
                while i >= 0 {
                    let e = s.ring[Int(i)]
                    if e.exemplar.timestamp >= start, e.exemplar.timestamp <= end { found.append(e.exemplar) }
                    i = e.next
                }
                if !found.isEmpty { out.append((entry.labels, found)) }
            }
        }
        out.sort { $0.labels < $1.labels }
        return out
    }

    /// Every exemplar held, oldest first, with its series id (for a WAL checkpoint).
    func all() -> [(UInt32, Exemplar)] {
        state.withLock { s in
            let n = s.ring.count
            let first = n < capacity ? 0 : s.nextSlot
            return (0..<n).map { k in
                let e = s.ring[(first + k) % n]
                return (e.series, e.exemplar)
            }
        }
    }
}

/// How an exemplar compares with the newest one its series holds (Prometheus's rules).
public enum ExemplarCheck: Sendable, Equatable {
    /// Newer: store it.
    case append
    /// Equal to the newest (same labels, value and timestamp): a no-op, as a resend is.
    case duplicate
    /// Older than the newest, or at its timestamp with a lower value, or with the same value
    /// and a lower labels hash: refused.
    case outOfOrder(newest: Int64)

    public init(_ e: Exemplar, newest: Exemplar?) {
        guard let newest else {
            self = .append
            return
        }
        if e == newest {
            self = .duplicate
        } else if e.timestamp < newest.timestamp
            || (e.timestamp == newest.timestamp && e.value < newest.value)
            || (e.timestamp == newest.timestamp && e.value == newest.value && e.labels.stableHash < newest.labels.stableHash)
        {
            self = .outOfOrder(newest: newest.timestamp)
        } else {
            self = .append
        }
    }
}
