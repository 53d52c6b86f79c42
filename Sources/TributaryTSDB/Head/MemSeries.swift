import TributaryModel

/// A full chunk kept in memory until blocks are written.
struct ClosedChunk: Sendable {
    let bytes: [UInt8]
    let minTime: Int64
    let maxTime: Int64
}

/// One series in the head: its labels as references into the head's symbols (tail-allocated
/// after the state, no array of their own), closed chunks, the chunk being appended to and the
/// out-of-order samples.
///
/// Memory is what limits a head (`Docs/memory.md`): the state is ordered so that no field
/// leaves padding, and everything the series does not need between commits lives elsewhere
/// (a commit's scratch in ``CommitState``, the block range in ``HeadOptions``).
///
/// Locking: `closed`, `head`, `headMinTime`, `nextCut`, `ooo` and `removed` change under the
/// series' stripe lock (readers take it to snapshot); the newest in-order sample (`lastT`,
/// `lastV`, kept by the head chunk's appender) changes only in a commit, under the commit lock
/// and the stripe lock, so a commit reads it with the commit lock alone; the HA fields and
/// `pendingSlot` belong to commits.
final class MemSeries: ManagedBuffer<MemSeries.State, UInt8> {
    struct State {
        let id: UInt32
        /// Index of this series' entry in the running commit's ``CommitState/pending``, when
        /// that entry names this series (else stale from an earlier commit).
        var pendingSlot: UInt32 = 0
        let hash: UInt64
        var closed: [ClosedChunk] = []
        /// The open chunk; its appender's last sample is the series' newest in-order sample
        /// and survives the chunk being closed.
        var head = XORChunk(unallocatedAfter: .min)
        // HA deduplication flags (commit lock): the replicas show different intervals; the
        // series follows the replica in slot B (else slot A).
        var intervalsDisagree = false
        var followsReplicaB = false
        /// The series' scrape interval, the width of its dedup window (commit lock).
        var dedupInterval = DedupInterval()
        /// Removed from the head; its symbols may be freed (stripe lock).
        var removed = false
        let refsCount: UInt16
        var headMinTime: Int64 = .max
        /// Time at or after which the next sample starts a new chunk (``ChunkCutter``).
        var nextCut: Int64 = .min
        /// Out-of-order samples accepted within the window, sorted by timestamp.
        var ooo: [Sample] = []
        /// HA deduplication: the last two replicas seen for this series and when (commit lock).
        var replicaA: UInt64 = 0
        var replicaAT: Int64 = .min
        var replicaB: UInt64 = 0
        var replicaBT: Int64 = .min
        /// The replicas' last spacings (ms), to notice replicas scraping at different intervals.
        var replicaASpacing: Int32 = 0
        var replicaBSpacing: Int32 = 0
        /// Resume points and labels while queries read the series (stripe lock; counted in
        /// the stripe's ``SeriesTable/resumeBoxes``). In the state, not in a table by ID: a
        /// lookup there cost a one-step refresh cache misses on every series it read.
        var box: ResumeBox?
    }

    /// A series whose labels are `refs` (from ``HeadSymbols/intern(_:)``). Up to 65,534
    /// bytes of references their count is in the state; longer (tens of thousands of labels,
    /// if the limits allow them) it is 0xFFFF and a 4-byte count leads the tail.
    static func make(id: UInt32, hash: UInt64, refs: [UInt8]) -> MemSeries {
        let long = refs.count >= Int(UInt16.max)
        let tail = long ? withUnsafeBytes(of: UInt32(truncatingIfNeeded: refs.count).littleEndian, Array.init) + refs : refs
        let made = create(minimumCapacity: tail.count) { _ in State(id: id, hash: hash, refsCount: long ? .max : UInt16(refs.count)) }
        let series = unsafeDowncast(made, to: MemSeries.self)
        if !tail.isEmpty {
            series.withUnsafeMutablePointerToElements { elements in
                tail.withUnsafeBufferPointer { elements.initialize(from: $0.baseAddress.unsafelyUnwrapped, count: tail.count) }
            }
        }
        return series
    }

    /// The references to the series' label symbols.
    @inline(__always)
    func withRefs<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeMutablePointerToElements { tail in
            let short = state.pointee.refsCount
            if short != .max { return body(UnsafeRawBufferPointer(start: tail, count: Int(short))) }
            let count = UnsafeRawPointer(tail).loadUnaligned(as: UInt32.self).littleEndian
            return body(UnsafeRawBufferPointer(start: tail + 4, count: Int(count)))
        }
    }

    /// The series' labels, rebuilt from the symbols. Only for a series not removed: under its
    /// stripe lock, or the commit lock (removal takes both).
    func labels(_ symbols: HeadSymbols) -> Labels {
        withRefs { symbols.labels($0) }
    }

    /// The state, through a pointer: `header` is a class property of the standard library's
    /// `ManagedBuffer`, and each access to it went through dynamic exclusivity checks
    /// (`swift_beginAccess`, 12% of an append in perf). The pointer is valid while the series
    /// is referenced, which every caller does.
    @inline(__always)
    var state: UnsafeMutablePointer<State> { withUnsafeMutablePointerToHeader { $0 } }

    var id: UInt32 { state.pointee.id }
    var hash: UInt64 { state.pointee.hash }
    var refsByteCount: Int { withRefs { $0.count } }

    var pendingSlot: UInt32 {
        get { state.pointee.pendingSlot }
        _modify { yield &state.pointee.pendingSlot }
    }
    // Read in place (`_read`): a `get` returned a copy, a reference taken and dropped on the
    // array (an atomic operation on memory a query had not touched yet) at every read of a
    // field, several per series a query reads.
    var closed: [ClosedChunk] {
        _read { yield state.pointee.closed }
        _modify { yield &state.pointee.closed }
    }
    var head: XORChunk {
        _read { yield state.pointee.head }
        _modify { yield &state.pointee.head }
    }
    var headMinTime: Int64 {
        get { state.pointee.headMinTime }
        _modify { yield &state.pointee.headMinTime }
    }
    var ooo: [Sample] {
        _read { yield state.pointee.ooo }
        _modify { yield &state.pointee.ooo }
    }
    var removed: Bool {
        get { state.pointee.removed }
        _modify { yield &state.pointee.removed }
    }
    /// Timestamp and value of the newest in-order sample (`.min` while there is none). A
    /// deletion keeps them (later samples are appended after them) though the sample may be
    /// gone: they are a stored sample only while the open chunk holds samples, which then end
    /// with it (``Head/read(_:start:end:newestOnly:into:)`` relies on this).
    var lastT: Int64 { state.pointee.head.lastT }
    var lastV: Double { state.pointee.head.lastV }

    var intervalsDisagree: Bool {
        get { state.pointee.intervalsDisagree }
        _modify { yield &state.pointee.intervalsDisagree }
    }
    var followsReplicaB: Bool {
        get { state.pointee.followsReplicaB }
        _modify { yield &state.pointee.followsReplicaB }
    }
    var dedupInterval: DedupInterval {
        get { state.pointee.dedupInterval }
        _modify { yield &state.pointee.dedupInterval }
    }
    var replicaA: UInt64 {
        get { state.pointee.replicaA }
        _modify { yield &state.pointee.replicaA }
    }
    var replicaAT: Int64 {
        get { state.pointee.replicaAT }
        _modify { yield &state.pointee.replicaAT }
    }
    var replicaB: UInt64 {
        get { state.pointee.replicaB }
        _modify { yield &state.pointee.replicaB }
    }
    var replicaBT: Int64 {
        get { state.pointee.replicaBT }
        _modify { yield &state.pointee.replicaBT }
    }
    var replicaASpacing: Int32 {
        get { state.pointee.replicaASpacing }
        _modify { yield &state.pointee.replicaASpacing }
    }
    var replicaBSpacing: Int32 {
        get { state.pointee.replicaBSpacing }
        _modify { yield &state.pointee.replicaBSpacing }
    }

    /// Appends an in-order sample (t > lastT); returns the bytes the chunks grew by.
    /// Caller holds the stripe lock.
    func appendInOrder(_ t: Int64, _ v: Double, chunkRange: Int64, resumeBoxes: inout Int) -> Int {
        let p = state
        var grown = 0
        let count = p.pointee.head.count
        if ChunkCutter.mustCut(at: t, count: count, minTime: p.pointee.headMinTime, maxTime: p.pointee.head.maxTime, range: chunkRange, nextAt: &p.pointee.nextCut) {
            let closedStart = p.pointee.headMinTime
            p.pointee.closed.append(ClosedChunk(bytes: p.pointee.head.compactBytes, minTime: closedStart, maxTime: p.pointee.head.maxTime))
            p.pointee.head.restart(capacity: 64)
            _ = ChunkCutter.mustCut(at: t, count: 0, minTime: t, maxTime: t, range: chunkRange, nextAt: &p.pointee.nextCut)
            p.pointee.headMinTime = t
            closeResumePoints(chunkStart: closedStart, &resumeBoxes)
            grown += 2 + MemoryLayout<ClosedChunk>.stride
        } else if count == 0 {
            p.pointee.headMinTime = t
            p.pointee.head.restart(capacity: 64)
        }
        let before = p.pointee.head.bytes.count
        p.pointee.head.append(t, v)
        grown += p.pointee.head.bytes.count - before
        recordResumePoint(&resumeBoxes)
        return grown
    }

    /// Inserts an out-of-order sample in timestamp order. Caller holds the stripe lock.
    func insertOutOfOrder(_ s: Sample) -> Int {
        ooo.insert(s, at: ooo.partitioningIndex { $0.timestamp >= s.timestamp })
        return MemoryLayout<Sample>.stride
    }

    /// The stored value at exactly `t`, if any. Caller holds the stripe lock.
    func storedValue(at t: Int64) -> Double? {
        for c in closed where c.minTime <= t && t <= c.maxTime {
            var it = XORIterator(bytes: c.bytes)
            if let s = it.seek(t), s.timestamp == t { return s.value }
        }
        if head.count > 0, headMinTime <= t, t <= head.maxTime {
            var it = head.makeIterator()
            if let s = it.seek(t), s.timestamp == t { return s.value }
        }
        if let s = ooo.first(where: { $0.timestamp == t }) { return s.value }
        return nil
    }

    /// Closes the open chunk, keeping its last sample as the newest in-order one. Caller
    /// holds the stripe lock.
    func closeHeadChunk() {
        guard head.count > 0 else { return }
        closed.append(ClosedChunk(bytes: head.compactBytes, minTime: headMinTime, maxTime: head.maxTime))
        head.release()
        headMinTime = .max
    }

    /// Number of chunks (closed and head).
    var chunkCount: Int { closed.count + (head.count > 0 ? 1 : 0) }
}
