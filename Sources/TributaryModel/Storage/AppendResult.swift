/// Why one sample was refused.
public enum AppendError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Older than the series' newest sample and outside the out-of-order window.
    case outOfOrder(timestamp: Int64, newest: Int64)
    /// Older than the head's newest time minus the out-of-order window.
    case tooOld(timestamp: Int64, oldestAllowed: Int64)
    /// Same timestamp as a stored sample but another value.
    case duplicateTimestamp(timestamp: Int64)
    /// An append by reference named no series.
    case unknownSeries(ref: SeriesRef)

    public var description: String {
        switch self {
        case .outOfOrder(let t, let newest): "out of order sample: timestamp \(t) is before the series' newest \(newest)"
        case .tooOld(let t, let oldest): "too old sample: timestamp \(t) is before \(oldest), the oldest the out-of-order window allows"
        case .duplicateTimestamp(let t): "duplicate sample for timestamp \(t) with a different value"
        case .unknownSeries(let ref): "unknown series reference \(ref)"
        }
    }
}

/// What a commit did.
public struct CommitResult: Sendable, Equatable {
    /// Samples now stored.
    public var samplesStored = 0
    /// Exact repeats (same timestamp and value) ignored.
    public var duplicatesIgnored = 0
    /// Series created by this commit.
    public var seriesCreated = 0
    /// Exemplars now stored.
    public var exemplarsStored = 0
    public init() {}
}

/// A storage failure: the commit was not acknowledged and may be retried.
public struct StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
