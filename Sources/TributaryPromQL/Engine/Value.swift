import TributaryModel

/// One element of an instant vector.
public struct VectorSample: Sendable {
    public var labels: Labels
    public var value: Double
    /// Set when the metric name is to be dropped at the end of evaluation (Prometheus's
    /// delayed name removal): functions and operators that change a value's meaning mark it.
    var dropName = false
    /// Identity of the stored series this sample's labels come from (selector position and
    /// series index), or -1 once labels were changed; lets aggregations find a series' group
    /// without hashing its labels at every step.
    var id = -1

    public init(labels: Labels, value: Double) {
        self.labels = labels
        self.value = value
    }
}

/// One series of a range vector or a range query result.
public struct SeriesResult: Sendable {
    public var labels: Labels
    public var samples: [Sample]
    var dropName = false

    public init(labels: Labels, samples: [Sample]) {
        self.labels = labels
        self.samples = samples
    }
}

/// The result of a query: what the HTTP API turns into Prometheus's JSON.
public enum QueryValue: Sendable {
    case scalar(timestamp: Int64, value: Double)
    case string(timestamp: Int64, value: String)
    case vector(timestamp: Int64, [VectorSample])
    case matrix([SeriesResult])

    /// `resultType` of the HTTP API.
    public var resultType: String {
        switch self {
        case .scalar: "scalar"
        case .string: "string"
        case .vector: "vector"
        case .matrix: "matrix"
        }
    }
}

/// What evaluating one node at one step gives.
enum StepValue {
    case scalar(Double)
    case string(String)
    case vector([VectorSample])
    case matrix([SeriesResult])
}

/// A query that failed while running, with Prometheus's `errorType`.
public struct EvaluationError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case execution, timeout, canceled, badData = "bad_data", tooManySamples = "execution_too_many_samples"
    }

    public var kind: Kind
    public var message: String
    /// The storage moved data while the query read it deferred: run again, it reads it where
    /// it now is (``QueryError/isRetryable``; the engine does so itself).
    var isRetryable = false

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The query ran past its timeout (Prometheus's wording).
    static let timedOut = EvaluationError(.timeout, "query timed out in expression evaluation")

    /// A storage error met while reading series.
    init(reading error: QueryError) {
        self.init(.execution, error.message)
        isRetryable = error.isRetryable
    }

    public var description: String { message }
}

/// Non-fatal findings of a query (the HTTP API's `warnings` and `infos`).
public struct Annotations: Sendable, Equatable {
    public var warnings: [String] = []
    public var infos: [String] = []
    /// Samples read from storage (the slow-query log's `samples`).
    public var samplesRead = 0
    /// The API's `stats`: `totalQueryableSamples` as Prometheus counts it (at each step, one
    /// per series an instant selector picks a sample for, and the samples in each range
    /// function's window; a subquery's own selections are not counted again where a range
    /// function reads its points), and the most points held at once (`peakSamples`).
    public var queryableSamples = 0
    public var peakSamples = 0
    public init() {}

    /// Adds warnings not already there (a range query finds the same at many steps).
    public mutating func add(warnings new: [String]) {
        for w in new where !warnings.contains(w) { warnings.append(w) }
    }
}
