/// A growable block of raw memory reused across requests (one per decoder, not thread-safe).
/// It grows to the largest request seen and never shrinks, so steady-state decoding does not
/// allocate.
public final class ScratchBuffer {
    private var pointer: UnsafeMutableRawPointer?
    public private(set) var capacity = 0

    public init() {}

    deinit { pointer?.deallocate() }

    /// At least `count` writable bytes; earlier contents are not kept.
    public func reserve(_ count: Int) -> UnsafeMutableRawPointer {
        if let pointer, capacity >= Swift.max(count, 1) { return pointer }
        pointer?.deallocate()
        let size = Swift.max(count, 4096)
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        pointer = fresh
        capacity = size
        return fresh
    }
}
