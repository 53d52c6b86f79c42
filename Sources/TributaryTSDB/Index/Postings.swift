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

    /// Series in any of the lists.
    public static func merge(_ lists: [[UInt32]]) -> [UInt32] {
        switch lists.count {
        case 0: return []
        case 1: return lists[0]
        default:
            var out = merge2(lists[0], lists[1])
            for list in lists.dropFirst(2) { out = merge2(out, list) }
            return out
        }
    }

    static func merge2(_ a: [UInt32], _ b: [UInt32]) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(a.count + b.count)
        var i = 0, j = 0
        while i < a.count, j < b.count {
            let x = a[i], y = b[j]
            if x == y {
                out.append(x)
                i += 1
                j += 1
            } else if x < y {
                out.append(x)
                i += 1
            } else {
                out.append(y)
                j += 1
            }
        }
        out.append(contentsOf: a[i...])
        out.append(contentsOf: b[j...])
        return out
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
