import Foundation
import TributaryModel

/// Settings of the PromQL engine (Prometheus's defaults).
public struct EngineOptions: Sendable {
    /// How far back an instant selector looks for the latest sample (5m).
    public var lookbackDelta: Int64 = 5 * 60_000
    /// Most samples one query may load or hold; beyond it the query fails.
    public var maxSamples = 50_000_000
    /// Longest a query may run.
    public var timeout: Double = 120
    /// Subquery resolution when `[range:]` gives no step.
    public var defaultSubqueryStep: Int64 = 60_000
    /// Evaluate what can be series at a time (all steps of one series at once) rather than step
    /// by step. Off only to compare the two (tests, benchmarks): the answers are the same.
    public var seriesAtATime = true
    /// Threads that series-at-a-time evaluation spreads the reading and computing of series
    /// over (nil: the query's own thread only).
    public var workers: WorkerPool?
    /// Read each series when it is computed, on the thread that computes it
    /// (``Querier/selectDeferred(_:start:end:on:)``). The engine turns it off to run a query
    /// again whose storage moved data under it (``QueryError/isRetryable``); tests turn it off
    /// to compare the two.
    public var deferredSelection = true

    public init() {}
}

/// Evaluates PromQL against a ``Querier`` with Prometheus 3's semantics.
///
/// Concurrency: an engine is immutable and can run any number of queries at once.
public struct Engine: Sendable {
    public let options: EngineOptions

    public init(options: EngineOptions = EngineOptions()) {
        self.options = options
    }

    /// Evaluates `query` at one time (milliseconds).
    public func instantQuery(_ query: String, at time: Int64, querier: any Querier) throws -> (QueryValue, Annotations) {
        let expr = try Parser.parse(query)
        return try instantQuery(expr, at: time, querier: querier)
    }

    /// Evaluates a parsed expression at one time.
    public func instantQuery(_ expr: Expr, at time: Int64, querier: any Querier) throws(EvaluationError) -> (QueryValue, Annotations) {
        try retryingEagerly { engine throws(EvaluationError) in try engine.evaluateInstant(expr, at: time, querier: querier) }
    }

    /// `run(self)`; when the storage moved data under its deferred reads (a head cut into a
    /// block), `run` once more with an engine that reads every series before computing any,
    /// within what is left of the query's timeout (the timeout bounds the query, not each run).
    private func retryingEagerly<T>(_ run: (Engine) throws(EvaluationError) -> T) throws(EvaluationError) -> T {
        let started = Date()
        do {
            return try run(self)
        } catch {
            guard error.isRetryable, options.deferredSelection else { throw error }
            var eager = options
            eager.deferredSelection = false
            eager.timeout = options.timeout - Date().timeIntervalSince(started)
            guard eager.timeout > 0 else { throw EvaluationError.timedOut }
            return try run(Engine(options: eager))
        }
    }

    private func evaluateInstant(_ expr: Expr, at time: Int64, querier: any Querier) throws(EvaluationError) -> (QueryValue, Annotations) {
        try refuseUnsupported(expr)
        var ev = Evaluator(options: options, querier: querier, start: time, end: time, step: 0)
        let context = ev.makeColumnContext()
        if options.seriesAtATime, expr.type == .vector, Evaluator.isColumnar(expr) {
            let vector = try ev.instantResult(ev.columns(expr, context))
            ev.note(context)
            return (.vector(timestamp: time, vector), ev.annotations)
        }
        if options.seriesAtATime { try ev.precomputeColumns(expr, context) }
        try ev.preload(expr)
        let value = try ev.eval(expr, at: time)
        ev.note(context)
        let result: QueryValue
        switch value {
        case .scalar(let v): result = .scalar(timestamp: time, value: v)
        case .string(let s): result = .string(timestamp: time, value: s)
        case .vector(let v): result = .vector(timestamp: time, try ev.finish(v))
        case .matrix(let m): result = .matrix(try ev.finish(m))
        }
        return (result, ev.annotations)
    }

    /// Evaluates `query` at every step from `start` to `end` (milliseconds).
    public func rangeQuery(_ query: String, start: Int64, end: Int64, step: Int64, querier: any Querier) throws -> (QueryValue, Annotations) {
        let expr = try Parser.parse(query)
        return try rangeQuery(expr, start: start, end: end, step: step, querier: querier)
    }

    /// As above. `sorted` false leaves the matrix's series in the order they were evaluated
    /// (storage order, not label order): for a caller that puts them in order itself, as the
    /// results cache does by pairing them with the series it holds (sorting 940 series by
    /// labels was a fifth of the CPU of their one-step evaluation).
    public func rangeQuery(
        _ expr: Expr, start: Int64, end: Int64, step: Int64, querier: any Querier, sorted: Bool = true
    ) throws(EvaluationError) -> (QueryValue, Annotations) {
        try retryingEagerly { engine throws(EvaluationError) in
            try engine.evaluateRange(expr, start: start, end: end, step: step, querier: querier, sorted: sorted)
        }
    }

    private func evaluateRange(
        _ expr: Expr, start: Int64, end: Int64, step: Int64, querier: any Querier, sorted: Bool
    ) throws(EvaluationError) -> (QueryValue, Annotations) {
        try refuseUnsupported(expr)
        guard step > 0 else { throw EvaluationError(.badData, "zero or negative query resolution step widths are not accepted. Try a positive integer") }
        guard end >= start else { throw EvaluationError(.badData, "end timestamp must not be before start time") }
        // Prometheus's limit: at most 11,000 points per series.
        guard (end - start) / step < 11_000 else {
            throw EvaluationError(.badData, "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
        }
        guard expr.type == .scalar || expr.type == .vector else {
            throw EvaluationError(.badData, "invalid expression type \"\(expr.type.rawValue)\" for range query, must be Scalar or instant Vector")
        }
        var ev = Evaluator(options: options, querier: querier, start: start, end: end, step: step)
        let context = ev.makeColumnContext()
        if options.seriesAtATime, expr.type == .vector, Evaluator.isColumnar(expr) {
            let matrix = try ev.rangeResult(ev.columns(expr, context), sorted: sorted)
            ev.note(context)
            return (.matrix(matrix), ev.annotations)
        }
        if options.seriesAtATime, let (a, k) = Evaluator.columnarSelectK(expr) {
            let matrix = try ev.rangeResult(ev.selectKColumns(a, parameter: k, context), sorted: sorted)
            ev.note(context)
            return (.matrix(matrix), ev.annotations)
        }
        if options.seriesAtATime { try ev.precomputeColumns(expr, context) }
        try ev.preload(expr)
        var series: [Labels: Int] = [:]
        var out: [SeriesResult] = []
        var t = start
        while t <= end {
            switch try ev.eval(expr, at: t) {
            case .scalar(let v):
                let i = series[.empty] ?? out.count
                if i == out.count {
                    series[.empty] = i
                    out.append(SeriesResult(labels: .empty, samples: []))
                }
                out[i].samples.append(Sample(timestamp: t, value: v))
            case .vector(let vector):
                let finished = try ev.finish(vector)
                for s in finished {
                    if let i = series[s.labels] {
                        out[i].samples.append(Sample(timestamp: t, value: s.value))
                    } else {
                        series[s.labels] = out.count
                        out.append(SeriesResult(labels: s.labels, samples: [Sample(timestamp: t, value: s.value)]))
                    }
                }
            default:
                throw EvaluationError(.execution, "unexpected result type in range query")
            }
            try ev.checkLimits()
            t += step
        }
        if sorted { out.sort { $0.labels < $1.labels } }
        ev.note(context)
        return (.matrix(out), ev.annotations)
    }
}
