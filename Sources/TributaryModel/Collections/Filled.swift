extension Array {
    /// `count` copies of `value`, as `Array(repeating:count:)` makes them but without a type
    /// lookup per call: that initialiser allocates through a standard-library function that is
    /// not specialised (`_allocateBufferUninitialized(minimumCapacity:)`), which finds the
    /// storage class's metadata in the runtime's table every time. This allocates as
    /// `reserveCapacity` does (specialised, the metadata cached). For arrays made per series
    /// (a one-step refresh makes two for each).
    @inlinable
    public static func filled(_ value: Element, count: Int) -> [Element] {
        var out: [Element] = []
        out.reserveCapacity(count)
        out.append(contentsOf: repeatElement(value, count: count))
        return out
    }
}
