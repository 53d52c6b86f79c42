import TributaryModel

/// What HA deduplication did with a sample.
public enum DedupOutcome: Sendable, Equatable {
    /// Queued for storage.
    case appended
    /// Its dedup window already holds a sample (from this or another replica): dropped.
    case duplicateWindow
    /// A stale marker while another replica still reports the series: dropped.
    case staleSuppressed
    /// Refused as an ordinary append would be.
    case refused(AppendError)
}

extension HeadBatch {
    /// Appends one sample of an HA pair (labels already without the replica label), keeping
    /// at most one sample per series per `window` milliseconds: the first to arrive for a
    /// window fills it, whichever replica sent it (see `Docs/dedup.md`).
    ///
    /// The decision reads only the series' newest stored or queued timestamp, which the WAL
    /// restores on restart; the replica bookkeeping for stale markers is soft state.
    /// - Parameters:
    ///   - replica: an identity of the sending replica (a hash of its replica label values).
    ///   - window: the dedup window in milliseconds (> 0).
    public mutating func appendDeduplicated(_ labels: LabelsView, _ sample: Sample, replica: UInt64, window: Int64) -> DedupOutcome {
        let hash = labels.stableHash
        if let found = head.findUnretained(labels, hash: hash) {
            return found._withUnsafeGuaranteedRef { appendDeduplicated($0, sample, replica: replica, window: window) }
        }
        return appendDeduplicated(newSeriesForDedup(Labels(labels), hash: hash), sample, replica: replica, window: window)
    }

    mutating func appendDeduplicated(_ s: MemSeries, _ sample: Sample, replica: UInt64, window: Int64) -> DedupOutcome {
        let t = sample.timestamp
        // Remember who reports this series (two slots: an HA pair; a third replica takes the
        // slot seen longest ago).
        if s.replicaAT != .min, replica == s.replicaA {
            s.replicaAT = max(s.replicaAT, t)
        } else if s.replicaBT != .min, replica == s.replicaB {
            s.replicaBT = max(s.replicaBT, t)
        } else if s.replicaAT == .min || (s.replicaBT != .min && s.replicaAT <= s.replicaBT) {
            s.replicaA = replica
            s.replicaAT = t
        } else {
            s.replicaB = replica
            s.replicaBT = t
        }
        if sample.isStale {
            // Another replica seen within two windows still reports the series.
            let otherT = replica == s.replicaA ? s.replicaBT : s.replicaAT
            if otherT != .min, abs(t - otherT) <= 2 * window { return .staleSuppressed }
        }
        if s.pendingCommit != state.sequence {
            s.pendingCommit = state.sequence
            s.pendingLastT = s.lastT
            s.pendingLastV = s.lastV
        }
        // Counted by the caller as deduplicated, not as an exact repeat (`duplicatesIgnored`):
        // counting it in both made remote write 2.0's Samples-Written header count it twice.
        if s.pendingLastT != .min, Self.floorDiv(s.pendingLastT, window) >= Self.floorDiv(t, window) {
            return .duplicateWindow
        }
        if let error = append(s, sample) { return .refused(error) }
        return .appended
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}
