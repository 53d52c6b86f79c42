import TributaryModel

/// Labels by series id. Ids are handed out densely, so a slot per id (8 bytes) serves where a
/// dictionary entry cost about 30 at 100k series.
struct SeriesByID {
    private(set) var slots: [Labels?] = []
    private(set) var count = 0

    /// The largest jump past the highest id a new id may make: an id further out (only a
    /// damaged file could hold one) is refused rather than allocating slots for it.
    static let maxJump = 1 << 24

    subscript(id: UInt32) -> Labels? {
        Int(id) < slots.count ? slots[Int(id)] : nil
    }

    /// Sets or (nil) removes the labels of `id`; false when `id` is too far out to hold.
    @discardableResult
    mutating func set(_ id: UInt32, _ labels: Labels?) -> Bool {
        let i = Int(id)
        if i >= slots.count {
            guard labels != nil else { return true }
            guard i - slots.count < Self.maxJump else { return false }
            if i >= slots.capacity { slots.reserveCapacity(max(i + 1, slots.capacity + slots.capacity / 2)) }
            slots.append(contentsOf: repeatElement(nil, count: i + 1 - slots.count))
        }
        if slots[i] == nil, labels != nil { count += 1 }
        if slots[i] != nil, labels == nil { count -= 1 }
        slots[i] = labels
        return true
    }

    /// The highest id held.
    var maxID: UInt32? {
        slots.lastIndex { $0 != nil }.map { UInt32($0) }
    }

    /// Every id and its labels, in id order.
    var all: [(UInt32, Labels)] {
        var out: [(UInt32, Labels)] = []
        out.reserveCapacity(count)
        for (i, l) in slots.enumerated() { if let l { out.append((UInt32(i), l)) } }
        return out
    }
}
