import TributaryModel

/// Operations on postings lists: sorted, duplicate-free arrays of series IDs.
public enum Postings {
    /// Series in both lists.
    public static func intersect(_ a: [UInt32], _ b: [UInt32]) -> [UInt32] {
        if a.isEmpty || b.isEmpty { return [] }
        // Gallop through the longer list when sizes differ a lot.
        let (small, large) = a.count <= b.count ? (a, b) : (b, a)
        var out: [UInt32] = []
        out.reserveCapacity(small.count)
        if large.count > small.count * 16 {
            var low = 0
            for x in small {
                low = lowerBound(large, x, from: low)
                if low == large.count { break }
                if large[low] == x { out.append(x) }
            }
            return out
        }
        var i = 0, j = 0
        while i < small.count, j < large.count {
            let x = small[i], y = large[j]
            if x == y {
                out.append(x)
                i += 1
                j += 1
            } else if x < y {
                i += 1
            } else {
                j += 1
            }
        }
        return out
    }

    /// Series in any of the lists. Many lists whose IDs lie close together (a regex over many
    /// label values: `instance=~"host-1.*"` yields hundreds) are marked in a bitmap over their
    /// span and read back in order, one pass over the IDs and one over the span; others are
    /// merged in pairs, level by level (n·log k for k lists of n IDs in all; folding them into
    /// one growing list was n·k). In pairs, the 111 lists of `instance=~"lab-host-1.*"` over a
    /// 20k-series head were 13 % of a refresh of that panel.
    public static func merge(_ lists: [[UInt32]]) -> [UInt32] {
        var level = lists.filter { !$0.isEmpty }
        if level.count >= bitmapLists, let merged = mergeByBitmap(level) { return merged }
        while level.count > 1 {
            var next: [[UInt32]] = []
            next.reserveCapacity((level.count + 1) / 2)
            var i = 0
            while i + 1 < level.count {
                next.append(merge2(level[i], level[i + 1]))
                i += 2
            }
            if i < level.count { next.append(level[i]) }
            level = next
        }
        return level.first ?? []
    }

    /// Fewer lists merge as fast in pairs.
    static let bitmapLists = 4

    /// The union of sorted `lists` through a bitmap over their span, or nil when the span is
    /// over two bits per ID (a scan of mostly empty words would cost more than pairs).
    static func mergeByBitmap(_ lists: [[UInt32]]) -> [UInt32]? {
        var low = UInt32.max, high = UInt32.min, total = 0
        for list in lists {
            guard let first = list.first, let last = list.last else { continue }
            low = min(low, first)
            high = max(high, last)
            total += list.count
        }
        guard total > 0 else { return [] }
        let words = Int(high - low) / 64 + 1
        guard words <= 2 * total else { return nil }
        var bits = [UInt64](repeating: 0, count: words)
        bits.withUnsafeMutableBufferPointer { bits in
            for list in lists {
                list.withUnsafeBufferPointer { ids in
                    for id in ids {
                        let offset = Int(id - low)
                        bits[offset >> 6] |= 1 << UInt64(offset & 63)
                    }
                }
            }
        }
        return [UInt32](unsafeUninitializedCapacity: total) { out, written in
            var n = 0
            for (i, word) in bits.enumerated() {
                var w = word
                while w != 0 {
                    out[n] = low + UInt32(i * 64 + w.trailingZeroBitCount)
                    n += 1
                    w &= w - 1
                }
            }
            written = n
        }
    }

    static func merge2(_ a: [UInt32], _ b: [UInt32]) -> [UInt32] {
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                [UInt32](unsafeUninitializedCapacity: a.count + b.count) { out, written in
                    var i = 0, j = 0, n = 0
                    while i < a.count, j < b.count {
                        let x = a[i], y = b[j]
                        out[n] = min(x, y)
                        n += 1
                        if x <= y { i += 1 }
                        if y <= x { j += 1 }
                    }
                    while i < a.count {
                        out[n] = a[i]
                        n += 1
                        i += 1
                    }
                    while j < b.count {
                        out[n] = b[j]
                        n += 1
                        j += 1
                    }
                    written = n
                }
            }
        }
    }

    /// Series in `a` but not in `b`.
    public static func without(_ a: [UInt32], _ b: [UInt32]) -> [UInt32] {
        if b.isEmpty { return a }
        var out: [UInt32] = []
        out.reserveCapacity(a.count)
        var j = 0
        for x in a {
            while j < b.count, b[j] < x { j += 1 }
            if j < b.count, b[j] == x { continue }
            out.append(x)
        }
        return out
    }

    /// First index in `list` (from `start`) whose element is ≥ `x`.
    static func lowerBound(_ list: [UInt32], _ x: UInt32, from start: Int) -> Int {
        list[start...].partitioningIndex { $0 >= x }
    }

    /// Inserts `id` keeping the list sorted; IDs mostly arrive in order, so search from the end.
    static func insert(_ id: UInt32, into list: inout [UInt32]) {
        if list.last.map({ $0 < id }) ?? true {
            list.append(id)
            return
        }
        var i = list.count
        while i > 0, list[i - 1] > id { i -= 1 }
        if i > 0, list[i - 1] == id { return }
        list.insert(id, at: i)
    }

    /// Removes `id` if present.
    static func remove(_ id: UInt32, from list: inout [UInt32]) {
        let i = lowerBound(list, id, from: 0)
        if i < list.count, list[i] == id { list.remove(at: i) }
    }
}
