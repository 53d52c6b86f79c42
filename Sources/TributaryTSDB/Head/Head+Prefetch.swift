import CTributaryPrefetch

extension Head {
    /// Asks the CPU to load the states of the series `ids` (the first of a one-step read's
    /// cache misses, one after another: the state, then the chunk and the box it points to).
    /// Asked for a few series at once, they overlap. The second level is asked for by
    /// ``series(id:prefetchingFor:)``, once a state has had time to arrive.
    ///
    /// Only hints: the slots are read under the byID lock, and nothing is dereferenced but
    /// through a prefetch, which never faults.
    func prefetchStates(ids: ArraySlice<UInt32>) {
        byID.withLock { all in
            all.withUnsafeBufferPointer { slots in
                for id in ids {
                    guard let state = Self.state(of: id, in: slots) else { continue }
                    tributary_prefetch_lines(state, Int32(Self.stateLines))
                }
            }
        }
    }

    /// The series `id` (as ``series(id:)``), and a hint for the series `ahead`: its open
    /// chunk's bytes and its resume box, read from its state under the byID lock (which keeps
    /// it alive) with relaxed loads (an append may be changing them: the old value or the new
    /// is as good for a hint).
    func series(id: UInt32, prefetchingFor ahead: UInt32?) -> MemSeries? {
        byID.withLock { all in
            if let ahead {
                all.withUnsafeBufferPointer { slots in
                    guard let state = Self.state(of: ahead, in: slots) else { return }
                    if let chunk = UnsafeRawPointer(bitPattern: tributary_load_word_relaxed(state + Self.openBytesOffset)) { tributary_prefetch_lines(chunk, 4) }
                    if let box = UnsafeRawPointer(bitPattern: tributary_load_word_relaxed(state + Self.boxOffset)) { tributary_prefetch_lines(box, 3) }
                }
            }
            return Int(id) < all.count ? all[Int(id)] : nil
        }
    }

    /// The state of the series in slot `id` (nil when there is none), from the slot's bits: no
    /// reference is taken. Caller holds the byID lock.
    private static func state(of id: UInt32, in slots: UnsafeBufferPointer<MemSeries?>) -> UnsafeRawPointer? {
        guard let base = slots.baseAddress, Int(id) < slots.count else { return nil }
        let object = tributary_load_word_relaxed(UnsafeRawPointer(base) + Int(id) * MemoryLayout<UInt>.stride)
        return object == 0 ? nil : UnsafeRawPointer(bitPattern: object &+ UInt(stateOffset))
    }

    /// Where a series' state lies in its object (after the object's header).
    static let stateOffset: Int = {
        let s = MemSeries.make(id: 0, hash: 0, refs: [])
        return UnsafeRawPointer(s.state) - UnsafeRawPointer(Unmanaged.passUnretained(s).toOpaque())
    }()

    /// Cache lines of a series' state.
    static let stateLines = (MemoryLayout<MemSeries.State>.size + 63) / 64

    /// Where, in a series' state, the reference to its open chunk's bytes (an array's storage)
    /// and to its resume box lie.
    static let openBytesOffset = MemoryLayout<MemSeries.State>.offset(of: \.head.stream.bytes) ?? 0
    static let boxOffset = MemoryLayout<MemSeries.State>.offset(of: \.box) ?? 0
}
