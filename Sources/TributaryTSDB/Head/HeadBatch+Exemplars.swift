import TributaryModel

/// What became of an exemplar given to a commit.
public enum ExemplarOutcome: Sendable, Equatable {
    /// Queued for storage.
    case appended
    /// Already held by its series (a resend): nothing to store (counted as written).
    case duplicate
    /// HA deduplication: its dedup window already holds an exemplar (counted as written).
    case deduplicated
    /// Older than the newest exemplar of its series: refused.
    case outOfOrder(newest: Int64)
    /// Exemplar storage is off (`max_exemplars` ≤ 0): refused.
    case disabled
}

extension HeadBatch {
    /// Queues an exemplar for the series `labels` (created if new, as a sample would), checked
    /// against the newest exemplar stored or queued for it. With `window` (HA deduplication,
    /// labels without the replica label), an exemplar whose window already holds one is
    /// deduplicated as a sample would be.
    public mutating func appendExemplar(_ labels: LabelsView, _ exemplar: Exemplar, dedupWindow window: Int64 = 0) -> ExemplarOutcome {
        guard let storage = head.exemplars else { return .disabled }
        let hash = labels.stableHash
        let series = head.lookup(labels, hash: hash) ?? newSeriesForDedup(Labels(labels), hash: hash)
        let newest = state.newestExemplar[series.id] ?? storage.newest(of: series.id)
        // HA replicas: at most one exemplar per half interval, as samples (an older one is late).
        if window > 0, let newest, 2 * (exemplar.timestamp - newest.timestamp) < series.dedupInterval.window(fallback: window) {
            return exemplar == newest ? .duplicate : .deduplicated
        }
        switch ExemplarCheck(exemplar, newest: newest) {
        case .duplicate: return .duplicate
        case .outOfOrder(let t):
            // A resend (a retry after a lost answer) holds exemplars older than the newest:
            // those already held are repeats, not out of order.
            let queued = zip(state.exemplarSeries, state.exemplars).contains { $0.0 === series && $0.1 == exemplar }
            return queued || storage.contains(series.id, exemplar) ? .duplicate : .outOfOrder(newest: t)
        case .append:
            state.exemplarSeries.append(series)
            state.exemplars.append(exemplar)
            state.newestExemplar[series.id] = exemplar
            return .appended
        }
    }
}
