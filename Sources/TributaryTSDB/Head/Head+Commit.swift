import Synchronization
import TributaryModel
import TributaryWAL

/// Buffers of the commit in progress, reused between commits (guarded by the commit lock).
struct CommitState {
    /// Series of the queued samples, unretained: series live as long as the head (there is no
    /// series garbage collection yet) and this saves two atomic operations per sample
    /// (callgrind: retain/release were 14% of an append).
    var series: [Unmanaged<MemSeries>] = []
    var samples: [Sample] = []
    var ids: [UInt32] = []
    var newSeries: [MemSeries] = []
    /// Series created by commits whose WAL write failed; logged with the next commit.
    var unlogged: [MemSeries] = []
    var record: [UInt8] = []
    var duplicates = 0
    /// The newest sample each series will hold once the commit is applied (stored or
    /// queued), one entry per series the commit touches; found through
    /// ``MemSeries/pendingSlot``.
    var pending: [PendingSeries] = []
    /// Exemplars of the commit, their series, and the newest queued per series (validation).
    var exemplarSeries: [MemSeries] = []
    var exemplars: [Exemplar] = []
    var newestExemplar: [UInt32: Exemplar] = [:]
    /// Series by ID for appends by reference: a mirror of `Head.byID` that commits read
    /// without taking its lock (both change only under the commit lock).
    var byID: ContiguousArray<Unmanaged<MemSeries>?> = [nil]

    mutating func register(_ s: MemSeries) {
        let i = Int(s.id)
        while byID.count <= i { byID.append(nil) }
        byID[i] = Unmanaged.passUnretained(s)
    }
}

/// A series touched by the commit in progress and the newest sample it will hold.
struct PendingSeries {
    let series: Unmanaged<MemSeries>
    var lastT: Int64
    var lastV: Double
}

/// The samples of one commit, filled by the closure given to ``Head/commit(_:)``.
///
/// Each `append` is checked against what is stored and what this batch already holds, so its
/// result is final: a sample it accepts is stored by the commit (if the WAL write succeeds).
public struct HeadBatch: ~Copyable {
    let head: Head
    var state: CommitState

    /// Queues a sample for the series `labels` (already validated).
    /// - Returns: nil when queued or an exact repeat (ignored), else why it was refused.
    public mutating func append(_ labels: LabelsView, _ sample: Sample) -> AppendError? {
        let hash = labels.stableHash
        if let found = head.findUnretained(labels, hash: hash) {
            return found._withUnsafeGuaranteedRef { append($0, sample) }
        }
        return append(newSeries(Labels(labels), hash: hash), sample)
    }

    /// Queues a sample for the series `labels`.
    public mutating func append(_ labels: Labels, _ sample: Sample) -> AppendError? {
        labels.withView { append($0, sample) }
    }

    /// Queues a sample and returns the series' reference, for callers that keep per-series
    /// state (HA dedup, scrape caches) and append by reference afterwards.
    public mutating func appendReturningRef(_ labels: LabelsView, _ sample: Sample) -> (SeriesRef, AppendError?) {
        let hash = labels.stableHash
        let series = head.lookup(labels, hash: hash) ?? newSeries(Labels(labels), hash: hash)
        return (SeriesRef(series.id), append(series, sample))
    }

    /// Queues a sample for the series `ref` (from ``appendReturningRef(_:_:)``), skipping the
    /// label lookup; `.unknownSeries` when no series has that reference.
    public mutating func append(ref: SeriesRef, _ sample: Sample) -> AppendError? {
        guard let series = series(ref) else { return .unknownSeries(ref: ref) }
        return series._withUnsafeGuaranteedRef { append($0, sample) }
    }

    /// True when `ref` names a series of this head.
    public func isValid(_ ref: SeriesRef) -> Bool { series(ref) != nil }

    private func series(_ ref: SeriesRef) -> Unmanaged<MemSeries>? {
        ref < UInt64(state.byID.count) ? state.byID[Int(ref)] : nil
    }

    mutating func newSeriesForDedup(_ labels: Labels, hash: UInt64) -> MemSeries {
        newSeries(labels, hash: hash)
    }

    private mutating func newSeries(_ labels: Labels, hash: UInt64) -> MemSeries {
        let s = head.create(labels, hash: hash)
        state.newSeries.append(s)
        state.register(s)
        return s
    }

    /// The entry of `s` in ``CommitState/pending``, made from what it stores on first use in
    /// this commit. (A slot left from an earlier commit points past the end or at another
    /// series.)
    @inline(__always)
    mutating func pendingSlot(_ s: MemSeries) -> Int {
        let slot = Int(s.pendingSlot)
        if slot < state.pending.count, state.pending[slot].series.toOpaque() == Unmanaged.passUnretained(s).toOpaque() { return slot }
        state.pending.append(PendingSeries(series: Unmanaged.passUnretained(s), lastT: s.lastT, lastV: s.lastV))
        s.pendingSlot = UInt32(truncatingIfNeeded: state.pending.count - 1)
        return state.pending.count - 1
    }

    mutating func append(_ s: MemSeries, _ sample: Sample) -> AppendError? {
        let t = sample.timestamp
        let slot = pendingSlot(s)
        let pendingLastT = state.pending[slot].lastT
        if t > pendingLastT {
            state.pending[slot].lastT = t
            state.pending[slot].lastV = sample.value
            state.series.append(Unmanaged.passUnretained(s))
            state.samples.append(sample)
            return nil
        }
        if t == pendingLastT {
            if state.pending[slot].lastV.bitPattern == sample.value.bitPattern {
                state.duplicates += 1
                return nil
            }
            return .duplicateTimestamp(timestamp: t)
        }
        // Older than the newest sample: an exact repeat of a stored sample is harmless (senders
        // re-send after a restart); otherwise the out-of-order window decides.
        let stored =
            head.stripes[head.stripe(forHash: s.hash)].map.withLock { _ in s.storedValue(at: t) }
            ?? pendingValue(s, at: t)
        if let stored {
            if stored.bitPattern == sample.value.bitPattern {
                state.duplicates += 1
                return nil
            }
            return .duplicateTimestamp(timestamp: t)
        }
        let window = head.options.outOfOrderWindow
        if window <= 0 { return .outOfOrder(timestamp: t, newest: pendingLastT) }
        let newest = max(head.maxTime, pendingLastT)
        if t < newest - window { return .tooOld(timestamp: t, oldestAllowed: newest - window) }
        state.series.append(Unmanaged.passUnretained(s))
        state.samples.append(sample)
        return nil
    }

    private func pendingValue(_ s: MemSeries, at t: Int64) -> Double? {
        for (i, other) in state.series.enumerated() where other.takeUnretainedValue() === s && state.samples[i].timestamp == t {
            return state.samples[i].value
        }
        return nil
    }
}

extension Head {
    /// Runs one commit: `fill` queues samples, then they are written to the WAL (one write)
    /// and applied to memory. Commits are serialised.
    /// - Throws: ``StorageError`` when the WAL write fails; nothing of this commit is stored.
    public func commit(_ fill: (inout HeadBatch) -> Void) throws(StorageError) -> CommitResult {
        let outcome: Result<CommitResult, StorageError> = commitState.withLock { state in
            var batch = HeadBatch(head: self, state: state)
            state = CommitState()  // moved into the batch; restored below
            fill(&batch)
            state = batch.state
            defer {
                state.series.removeAll(keepingCapacity: true)
                state.samples.removeAll(keepingCapacity: true)
                state.ids.removeAll(keepingCapacity: true)
                state.newSeries.removeAll(keepingCapacity: true)
                state.record.removeAll(keepingCapacity: true)
                state.pending.removeAll(keepingCapacity: true)
                state.duplicates = 0
                if !state.exemplars.isEmpty {
                    state.exemplarSeries.removeAll(keepingCapacity: true)
                    state.exemplars.removeAll(keepingCapacity: true)
                    state.newestExemplar.removeAll(keepingCapacity: true)
                }
            }
            var result = CommitResult()
            result.duplicatesIgnored = state.duplicates
            result.seriesCreated = state.newSeries.count
            if let wal {
                let toLog = state.unlogged + state.newSeries
                if !toLog.isEmpty {
                    RecordCodec.appendSeries(ids: toLog.map(\.id), labels: toLog.map { $0.labels(symbols) }, to: &state.record)
                }
                if !state.samples.isEmpty {
                    for s in state.series { state.ids.append(s.takeUnretainedValue().id) }
                    RecordCodec.appendSamples(ids: state.ids, samples: state.samples, to: &state.record)
                }
                if !state.exemplars.isEmpty {
                    RecordCodec.appendExemplars(ids: state.exemplarSeries.map(\.id), exemplars: state.exemplars, to: &state.record)
                }
                do throws(WALError) {
                    try wal.log(state.record)
                    state.unlogged.removeAll()
                } catch {
                    // The new series exist in memory; their record goes out with the next commit.
                    state.unlogged = toLog
                    return .failure(StorageError("cannot write the WAL: \(error.message)"))
                }
            }
            result.samplesStored = apply(series: state.series, samples: state.samples)
            if let exemplars {
                for (s, e) in zip(state.exemplarSeries, state.exemplars) { exemplars.add(s.id, s.labels(symbols), e) }
                result.exemplarsStored = state.exemplars.count
            }
            return .success(result)
        }
        return try outcome.get()
    }

    /// Applies queued samples to memory; returns how many were stored. `learnIntervals` (WAL
    /// replay) teaches each series its HA dedup interval from the spacing of what it stored.
    func apply(series: [Unmanaged<MemSeries>], samples: [Sample], learnIntervals: Bool = false) -> Int {
        var grown = 0
        var stored = 0
        var oldest = Int64.max
        var i = 0
        while i < series.count {
            let stripe = stripe(forHash: series[i]._withUnsafeGuaranteedRef { $0.hash })
            // Consecutive samples of one stripe under one lock acquisition.
            stripes[stripe].map.withLock { table in
                repeat {
                    let sample = samples[i]
                    series[i]._withUnsafeGuaranteedRef { target in
                        if sample.timestamp > target.lastT {
                            if learnIntervals, target.lastT != .min, !sample.isStale { target.dedupInterval.observe(sample.timestamp - target.lastT, slot: 0) }
                            grown += target.appendInOrder(sample.timestamp, sample.value, chunkRange: options.chunkRange, resumeBoxes: &table.resumeBoxes)
                            stored += 1
                        } else if target.storedValue(at: sample.timestamp) == nil {
                            grown += target.insertOutOfOrder(sample)
                            stored += 1
                        }
                    }
                    noteTime(sample.timestamp)
                    oldest = min(oldest, sample.timestamp)
                    i += 1
                } while i < series.count && self.stripe(forHash: series[i]._withUnsafeGuaranteedRef { $0.hash }) == stripe
            }
        }
        bytes.add(grown, ordering: .relaxed)
        if oldest != .max { recentWrites.note(oldest: oldest) }
        return stored
    }
}
