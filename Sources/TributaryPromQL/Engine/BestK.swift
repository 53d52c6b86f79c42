/// The best k of a group as Prometheus 3 keeps them for `topk` and `bottomk`: a binary heap with
/// the worst kept value at the root, built with the moves of Go's `container/heap` (push while
/// there is room; then a better value overwrites the root, which sifts down). Which of several
/// equal values survive depends on those moves: with k = 3 over 1, 1, 1, 2, 2, 1 it keeps the
/// third, fourth and fifth. (Prometheus 2.x popped the root and pushed the newcomer instead, and
/// keeps the second, fourth and fifth; like the rest of the engine, this follows 3.x.)
///
/// The heap lives in caller-owned storage (`values` and `ids` from `base`, `count` entries), so
/// a range query can keep one per group and step in flat arrays.
struct BestK {
    /// topk (the root is the smallest) or bottomk (the root is the largest).
    let top: Bool

    /// Go's `Less` for the heap: NaN sorts below everything (and below NaN), then by value,
    /// reversed for bottomk.
    @inline(__always) func less(_ a: Double, _ b: Double) -> Bool {
        a.isNaN || (top ? a < b : a > b)
    }

    /// Whether `value` displaces the root of a full heap: it is strictly better, or the root is
    /// NaN and it is not.
    @inline(__always) func displaces(_ value: Double, root: Double) -> Bool {
        (top ? root < value : root > value) || (root.isNaN && !value.isNaN)
    }

    /// Offers one sample to a heap of capacity `k` (pushed while there is room; else it replaces
    /// the root when better, which then sifts down).
    @inline(__always) func offer(
        _ value: Double, id: Int32, values: inout [Double], ids: inout [Int32], base: Int, count: inout Int, k: Int
    ) {
        if count < k {
            values[base + count] = value
            ids[base + count] = id
            count += 1
            up(count - 1, &values, &ids, base)
        } else if displaces(value, root: values[base]) {
            values[base] = value
            ids[base] = id
            if k > 1 { down(count, &values, &ids, base) }
        }
    }

    /// The heap's entries best first, as Prometheus hands them out (`sort.Sort(sort.Reverse(heap))`,
    /// which for up to 12 entries is an insertion sort: equal values keep their heap order).
    func ordered(values: [Double], ids: [Int32], base: Int, count: Int) -> [Int32] {
        var v = Array(values[base..<base + count]), out = Array(ids[base..<base + count])
        for i in 1..<max(count, 1) {
            var j = i
            while j > 0, less(v[j - 1], v[j]) {
                v.swapAt(j, j - 1)
                out.swapAt(j, j - 1)
                j -= 1
            }
        }
        return out
    }

    private func up(_ start: Int, _ values: inout [Double], _ ids: inout [Int32], _ base: Int) {
        var j = start
        while j > 0 {
            let parent = (j - 1) / 2
            guard less(values[base + j], values[base + parent]) else { break }
            values.swapAt(base + j, base + parent)
            ids.swapAt(base + j, base + parent)
            j = parent
        }
    }

    private func down(_ n: Int, _ values: inout [Double], _ ids: inout [Int32], _ base: Int) {
        var i = 0
        while true {
            let left = 2 * i + 1
            guard left < n else { break }
            var j = left
            if left + 1 < n, less(values[base + left + 1], values[base + left]) { j = left + 1 }
            guard less(values[base + j], values[base + i]) else { break }
            values.swapAt(base + i, base + j)
            ids.swapAt(base + i, base + j)
            i = j
        }
    }
}
