import Synchronization
import TributaryModel

/// What HA deduplication did with a sample.
public enum DedupOutcome: Sendable, Equatable {
    /// Queued for storage.
    case appended
    /// Less than half the series' interval after the sample it holds (another replica's
    /// scrape of the same interval): dropped.
    case duplicateWindow
    /// At or before the newest sample the series holds (a late replica's backlog): dropped.
    case late
    /// A stale marker while another replica still reports the series: dropped.
    case staleSuppressed
    /// Refused as an ordinary append would be.
    case refused(AppendError)
}

extension HeadBatch {
    /// Appends one sample of an HA pair (labels already without the replica label), keeping
    /// one sample per series per scrape interval, whichever replica sent it (`Docs/dedup.md`).
    ///
    /// The interval is learned per series from consecutive samples of the same replica
    /// (``DedupInterval``); `window` (milliseconds, > 0) stands in until it is known. A sample
    /// is stored when it is at least half an interval after the newest one the series holds
    /// (from the replica that sent that one), or 0.55 of an interval (from the other): the
    /// series follows one replica, and when that one stops, the other's next sample is stored,
    /// so a gap never exceeds 1.55 intervals. The 0.05 keeps replicas half an interval apart
    /// from taking turns on scrape jitter.
    /// - Parameters:
    ///   - replica: an identity of the sending replica (a hash of its replica label values).
    ///   - window: the configured dedup window, used until the series shows its interval.
    public mutating func appendDeduplicated(_ labels: LabelsView, _ sample: Sample, replica: UInt64, window: Int64) -> DedupOutcome {
        let hash = labels.stableHash
        if let found = head.findUnretained(labels, hash: hash) {
            return found._withUnsafeGuaranteedRef { appendDeduplicated($0, sample, replica: replica, window: window) }
        }
        return appendDeduplicated(newSeriesForDedup(Labels(labels), hash: hash), sample, replica: replica, window: window)
    }

    mutating func appendDeduplicated(_ s: MemSeries, _ sample: Sample, replica: UInt64, window fallback: Int64) -> DedupOutcome {
        let t = sample.timestamp
        let inSlotB = noteReplica(s, replica, t, learn: !sample.isStale)
        let window = s.dedupInterval.window(fallback: fallback)
        if sample.isStale {
            // Another replica seen within two intervals still reports the series.
            let otherT = replica == s.replicaA ? s.replicaBT : s.replicaAT
            if otherT != .min, abs(t - otherT) <= 2 * window { return .staleSuppressed }
        }
        let pendingLastT = state.pending[pendingSlot(s)].lastT
        // Counted by the caller as deduplicated, not as an exact repeat (`duplicatesIgnored`):
        // counting it in both made remote write 2.0's Samples-Written header count it twice.
        if pendingLastT != .min {
            if t <= pendingLastT { return .late }
            let spacing = t - pendingLastT
            if inSlotB == s.followsReplicaB ? 2 * spacing < window : 20 * spacing < 11 * window { return .duplicateWindow }
        }
        if let error = append(s, sample) { return .refused(error) }
        s.followsReplicaB = inSlotB
        return .appended
    }

    /// Remembers that `replica` reported the series at `t` (two slots: an HA pair; a third
    /// replica takes the slot seen longest ago) and learns the interval from its spacing.
    /// Returns whether the replica is in slot B.
    private mutating func noteReplica(_ s: MemSeries, _ replica: UInt64, _ t: Int64, learn: Bool) -> Bool {
        var spacing: Int64 = 0
        var inSlotB = false
        if s.replicaAT != .min, replica == s.replicaA {
            if t > s.replicaAT {
                spacing = t - s.replicaAT
                s.replicaAT = t
                if learn { s.replicaASpacing = Int32(clamping: spacing) }
            }
        } else if s.replicaBT != .min, replica == s.replicaB {
            inSlotB = true
            if t > s.replicaBT {
                spacing = t - s.replicaBT
                s.replicaBT = t
                if learn { s.replicaBSpacing = Int32(clamping: spacing) }
            }
        } else if s.replicaAT == .min || (s.replicaBT != .min && s.replicaAT <= s.replicaBT) {
            s.replicaA = replica
            s.replicaAT = t
            s.replicaASpacing = 0
        } else {
            s.replicaB = replica
            s.replicaBT = t
            s.replicaBSpacing = 0
            inSlotB = true
        }
        guard learn, spacing > 0 else { return inSlotB }
        s.dedupInterval.observe(spacing, slot: inSlotB ? 1 : 0)
        let disagree = DedupInterval.disagree(s.replicaASpacing, s.replicaBSpacing)
        if disagree != s.intervalsDisagree {
            s.intervalsDisagree = disagree
            head.intervalMismatches.add(disagree ? 1 : -1, ordering: .relaxed)
        }
        return inSlotB
    }
}
