extension Array where Element == UInt8 {
    /// Appends the bytes `write` writes at the pointer it is given (room for `atMost` bytes),
    /// returning how many: room is added, written into in place and cut back. Text formatted
    /// on the stack and then copied stalled on every copy, whose loads read bytes still in the
    /// store buffer (~20 % of the CPU of a cold 235-series × 241-step answer, JSON points).
    /// Inlinable, so that callers in other modules (a JSON point per step) get `write` inlined
    /// rather than called through a closure context.
    @inlinable @inline(__always)
    public mutating func appendWritten(atMost: Int, _ write: (UnsafeMutablePointer<UInt8>) -> Int) {
        let start = count
        if atMost <= ZeroBlock.bytes.count {
            append(contentsOf: UnsafeBufferPointer(rebasing: ZeroBlock.bytes[..<atMost]))
        } else {
            append(contentsOf: repeatElement(0, count: atMost))
        }
        let n = withUnsafeMutableBufferPointer { write($0.baseAddress.unsafelyUnwrapped + start) }
        removeLast(atMost - n)
    }
}

/// Zeros that make the room of ``Swift/Array/appendWritten(atMost:_:)`` (copied: a
/// `repeatElement` is filled byte by byte). Never freed, never written.
@usableFromInline enum ZeroBlock {
    @usableFromInline nonisolated(unsafe) static let bytes: UnsafeBufferPointer<UInt8> = {
        let zeros = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 512)
        zeros.initialize(repeating: 0)
        return UnsafeBufferPointer(zeros)
    }()
}
