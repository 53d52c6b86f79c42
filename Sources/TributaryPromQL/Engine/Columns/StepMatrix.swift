import Foundation
import TributaryModel

/// One series of an instant-vector expression evaluated at every step of a query at once:
/// a value and whether there is one, per step.
struct StepSeries {
    var labels: Labels
    var values: [Double]
    var present: [Bool]
    /// Prometheus's delayed name removal, as ``VectorSample/dropName``. The same for every
    /// step: it follows from the expression, not from the data.
    var dropName: Bool

    init(labels: Labels, steps: Int, dropName: Bool) {
        self.labels = labels
        self.values = .filled(0, count: steps)
        self.present = .filled(false, count: steps)
        self.dropName = dropName
    }

    /// No labels and no steps (arrays that allocate nothing).
    static var empty: StepSeries { StepSeries(labels: .empty, steps: 0, dropName: false) }

    var pointCount: Int { present.reduce(0) { $1 ? $0 + 1 : $0 } }

    /// Makes this series `labels` with no value at any of `steps` steps, in its own arrays
    /// when nothing else holds them (a leaf's slot reused from series to series,
    /// ``Evaluator/forEachStoredSeries(_:from:to:_:_:_:)``): no allocation, and nothing
    /// allocated on one thread and freed on another.
    mutating func reset(labels: Labels, steps: Int, dropName: Bool) {
        self.labels = labels
        self.dropName = dropName
        if values.count == steps {
            values.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            present.withUnsafeMutableBufferPointer { $0.update(repeating: false) }
        } else {
            values = .filled(0, count: steps)
            present = .filled(false, count: steps)
        }
    }

    /// This series, leaving an empty one in its place: what a sink that keeps the series it
    /// is handed does, so that the slot it came from makes new arrays for its next series
    /// instead of copying these before clearing them.
    mutating func take() -> StepSeries {
        let taken = self
        self = .empty
        return taken
    }

    /// Both columns as buffers, for loops over every step: an indexed read or write of the
    /// arrays checked them (uniqueness, bounds) at each step.
    func withColumns<R>(_ body: (_ values: UnsafeBufferPointer<Double>, _ present: UnsafeBufferPointer<Bool>) -> R) -> R {
        values.withUnsafeBufferPointer { values in present.withUnsafeBufferPointer { present in body(values, present) } }
    }

    /// As ``withColumns(_:)``, to write them.
    mutating func withMutableColumns<R>(
        _ body: (_ values: UnsafeMutableBufferPointer<Double>, _ present: UnsafeMutableBufferPointer<Bool>) -> R
    ) -> R {
        values.withUnsafeMutableBufferPointer { values in present.withUnsafeMutableBufferPointer { present in body(values, present) } }
    }
}

/// What columnar evaluation of one query shares: the sample budget and deadline it enforces
/// as it goes, and the warnings it found (reported once, not once per step).
final class ColumnContext {
    let maxSamples: Int
    let deadline: Date
    /// Points held at once: loaded samples of the series being read, columns kept for the
    /// result, aggregation accumulators.
    private(set) var points = 0
    /// Samples read from storage, and the most points held at once.
    private(set) var samplesRead = 0
    private(set) var peak = 0
    /// Prometheus's `totalQueryableSamples` of what the leaves computed (``Annotations``).
    var queryable = 0
    private var checks = 0
    var warnings: [String] = []

    init(maxSamples: Int, deadline: Date) {
        self.maxSamples = maxSamples
        self.deadline = deadline
    }

    /// Counts `n` samples read from storage (held while their series is evaluated).
    func read(_ n: Int) throws(EvaluationError) {
        samplesRead += n
        try check(transient: n)
    }

    /// The counts so far, to go back to when a part of the query is evaluated again.
    struct Mark {
        let points: Int
        let samplesRead: Int
        let queryable: Int
        let warnings: Int
    }

    func mark() -> Mark { Mark(points: points, samplesRead: samplesRead, queryable: queryable, warnings: warnings.count) }

    /// Forgets what was counted since `mark` (the part is evaluated again and counted then); the
    /// peak stays, since those points were held.
    func rewind(to mark: Mark) {
        points = mark.points
        samplesRead = mark.samplesRead
        queryable = mark.queryable
        warnings.removeSubrange(min(mark.warnings, warnings.count)...)
    }

    /// Counts `n` more points held until the query ends; fails the query beyond its budget.
    func hold(_ n: Int) throws(EvaluationError) {
        points += n
        try check(transient: 0)
    }

    /// Fails the query when `transient` points more than those held would exceed its budget,
    /// or when it ran out of time (checked on the first call and every 256th).
    func check(transient: Int) throws(EvaluationError) {
        peak = max(peak, points + transient)
        if points + transient > maxSamples {
            throw EvaluationError(.tooManySamples, "query processing would load too many samples into memory in query execution")
        }
        checks &+= 1
        if checks & 255 == 1, Date() > deadline {
            throw EvaluationError.timedOut
        }
    }
}

/// Identifies one node of a parsed query (its place in the text and its kind), for the columns
/// computed for it before the step-by-step evaluation of the nodes around it.
struct NodeKey: Hashable {
    let start: Int
    let end: Int
    let kind: UInt8

    init(_ expr: Expr) {
        let range = expr.positionRange
        start = range.start
        end = range.end
        switch expr {
        case .number: kind = 0
        case .string: kind = 1
        case .vectorSelector: kind = 2
        case .matrixSelector: kind = 3
        case .subquery: kind = 4
        case .paren: kind = 5
        case .unary: kind = 6
        case .binary: kind = 7
        case .aggregate: kind = 8
        case .call: kind = 9
        case .timeFunction: kind = 10
        }
    }
}
