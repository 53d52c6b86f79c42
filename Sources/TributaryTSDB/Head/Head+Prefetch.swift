import CTributaryPrefetch

extension Head {
    /// The series `ids` (as ``series(id:)``) written to `words` as ``DeferredHeadSeries``
    /// keeps them (``noSeries`` for none, else the series with a reference taken), under one
    /// lock: their states asked for first, then, once each is taken, its open chunk's bytes and
    /// its resume box (``prefetchChunkAndBox(_:)``).
    func takeSeries(ids: UnsafeBufferPointer<UInt32>, into words: UnsafeMutablePointer<UInt>) {
        byID.withLock { all in
            all.withUnsafeBufferPointer { slots in
                for id in ids {
                    guard let state = Self.state(of: id, in: slots) else { continue }
                    tributary_prefetch_lines(state, Int32(Self.stateLines))
                }
                for (k, id) in ids.enumerated() {
                    // Under the lock, the reference in the slot stays while it is retained.
                    guard let object = Self.object(of: id, in: slots) else {
                        words[k] = Self.noSeries
                        continue
                    }
                    _ = Unmanaged<MemSeries>.fromOpaque(object).retain()
                    words[k] = UInt(bitPattern: object)
                    Self.prefetchChunkAndBox(object + Self.stateOffset)
                }
            }
        }
    }

    /// What ``takeSeries(ids:into:)`` writes for an ID with no series (0 is never an object).
    static let noSeries: UInt = 1

    /// The series `id` (as ``series(id:)``), and a hint for the series `ahead`
    /// (``prefetchChunkAndBox(_:)``, read under the byID lock, which keeps it alive).
    func series(id: UInt32, prefetchingFor ahead: UInt32?) -> MemSeries? {
        byID.withLock { all in
            if let ahead {
                all.withUnsafeBufferPointer { slots in
                    if let state = Self.state(of: ahead, in: slots) { Self.prefetchChunkAndBox(state) }
                }
            }
            return Int(id) < all.count ? all[Int(id)] : nil
        }
    }

    /// Asks for the open chunk's bytes and the resume box of the series whose state is at
    /// `state`, read with relaxed loads (an append may be changing them: the old value or the
    /// new is as good for a hint). The caller keeps the series alive.
    private static func prefetchChunkAndBox(_ state: UnsafeRawPointer) {
        if let chunk = UnsafeRawPointer(bitPattern: tributary_load_word_relaxed(state + openBytesOffset)) { tributary_prefetch_lines(chunk, 4) }
        if let box = UnsafeRawPointer(bitPattern: tributary_load_word_relaxed(state + boxOffset)) { tributary_prefetch_lines(box, 3) }
    }

    /// The series object in slot `id` (nil when there is none), from the slot's bits: no
    /// reference is taken. Caller holds the byID lock.
    private static func object(of id: UInt32, in slots: UnsafeBufferPointer<MemSeries?>) -> UnsafeRawPointer? {
        guard let base = slots.baseAddress, Int(id) < slots.count else { return nil }
        return UnsafeRawPointer(bitPattern: tributary_load_word_relaxed(UnsafeRawPointer(base) + Int(id) * MemoryLayout<UInt>.stride))
    }

    /// The state of the series in slot `id` (``object(of:in:)``). Caller holds the byID lock.
    private static func state(of id: UInt32, in slots: UnsafeBufferPointer<MemSeries?>) -> UnsafeRawPointer? {
        object(of: id, in: slots).map { $0 + stateOffset }
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
