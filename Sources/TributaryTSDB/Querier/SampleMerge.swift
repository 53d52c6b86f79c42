import TributaryModel

/// Lists of samples, each in time order, merged into one in time order with every timestamp
/// once: on a tie the sample of the earlier list wins (a block before the head, a chunk before
/// an out-of-order sample), and a timestamp repeated within a list is kept once too.
func mergeSamples(_ lists: [[Sample]]) -> [Sample] {
    var out: [Sample] = []
    out.reserveCapacity(lists.reduce(0) { $0 + $1.count })
    var next = [Int](repeating: 0, count: lists.count)
    while true {
        var pick = -1
        for (i, list) in lists.enumerated() where next[i] < list.count {
            if pick < 0 || list[next[i]].timestamp < lists[pick][next[pick]].timestamp { pick = i }
        }
        guard pick >= 0 else { return out }
        let s = lists[pick][next[pick]]
        if out.last.map({ $0.timestamp < s.timestamp }) ?? true { out.append(s) }
        next[pick] += 1
    }
}
