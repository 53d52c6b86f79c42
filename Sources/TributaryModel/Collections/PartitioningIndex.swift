extension Collection {
    /// The first index whose element satisfies `belongs`, by bisection; `belongs` must be false
    /// and then true along the collection (a sorted list asked "at or after x?"). The end index
    /// when no element does.
    @inlinable
    public func partitioningIndex(where belongs: (Element) throws -> Bool) rethrows -> Index {
        var low = startIndex
        var n = count
        while n > 0 {
            let half = n / 2
            let mid = index(low, offsetBy: half)
            if try belongs(self[mid]) {
                n = half
            } else {
                low = index(after: mid)
                n -= half + 1
            }
        }
        return low
    }
}
