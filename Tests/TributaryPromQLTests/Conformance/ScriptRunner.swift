import Foundation
import TributaryModel
import TributaryPromQL
import TributaryTSDB

/// Runs a ``TestScript`` against our engine over an in-memory head, comparing results as
/// FORMAT.md §8 says. Lenient mode: annotations are not checked, error messages are not
/// compared (only that the query fails).
struct ScriptRunner {
    struct Outcome {
        var run = 0
        var passed = 0
        var skipped: [String: Int] = [:]
        /// Evals whose answer differs without the native-histogram series they select.
        var needHistograms: [String] = []
        var failures: [String] = []
    }

    let file: String
    var head = ScriptRunner.newHead()
    var histogramNames = Set<String>()
    var histogramSeries: [Labels] = []
    var nhcbNames = Set<String>()
    var outcome = Outcome()
    let engine = Engine()

    static func newHead() -> Head {
        var options = HeadOptions()
        options.outOfOrderWindow = Int64.max / 4
        return Head(options: options)
    }

    init(file: String) { self.file = file }

    mutating func run(_ script: TestScript) {
        for command in script.commands {
            switch command {
            case .clear:
                head = Self.newHead()
                histogramNames = []
                histogramSeries = []
                nhcbNames = []
            case .load(let interval, let series, let histograms, let nhcb, _):
                histogramNames.formUnion(histograms.map { $0.value(of: "__name__") ?? "" })
                histogramSeries += histograms
                if nhcb {
                    for (labels, _) in series {
                        if let name = labels.value(of: "__name__"), name.hasSuffix("_bucket") { nhcbNames.insert(String(name.dropLast(7))) }
                    }
                }
                _ = try? head.commit { batch in
                    for (labels, values) in series {
                        for (k, v) in values.enumerated() {
                            guard let v else { continue }
                            _ = batch.append(labels, Sample(timestamp: Int64(k) * interval, value: v))
                        }
                    }
                }
            case .eval(let ev):
                if let reason = skipReason(ev) {
                    // An eval whose selectors also match native-histogram series, with only
                    // floats expected, runs: many functions drop histograms (clamp, sgn, ...),
                    // so without them the answer is the same. One that then differs needs the
                    // histograms (count, limitk over mixed series) and counts as skipped.
                    if reason == Self.histogramSelector {
                        if check(ev) == nil {
                            outcome.run += 1
                            outcome.passed += 1
                        } else {
                            outcome.skipped["counts native-histogram series (differs without them)", default: 0] += 1
                            outcome.needHistograms.append("\(file):\(ev.line): \(ev.expr)")
                        }
                        continue
                    }
                    outcome.skipped[reason, default: 0] += 1
                    continue
                }
                outcome.run += 1
                if let failure = check(ev) {
                    outcome.failures.append("\(file):\(ev.line): \(ev.expr): \(failure)")
                } else {
                    outcome.passed += 1
                }
            }
        }
    }

    static let histogramSelector = "queries a native-histogram series"

    func skipReason(_ ev: TestScript.Eval) -> String? {
        if let u = ev.unsupported { return u }
        if file == "native_histograms.test" { return "native histograms (whole file)" }
        if file == "start_timestamps.test" { return "start timestamps (whole file)" }
        if ev.expr.range(of: #"histogram_(count|sum|avg|stddev|stdvar)|</|>/"#, options: .regularExpression) != nil {
            return "native-histogram function or operator"
        }
        if let expr = try? Parser.parse(ev.expr),
            Self.selectors(expr).contains(where: { sel in
                histogramSeries.contains { series in sel.matchers.allSatisfy { $0.matches(series.value(of: $0.name) ?? "") } }
            })
        {
            return Self.histogramSelector
        }
        for name in nhcbNames where Self.mentions(ev.expr, name, exact: true) { return "queries a custom-bucket (NHCB) histogram" }
        if ev.expr.contains(" smoothed") || ev.expr.contains(" anchored") { return "extended range selectors (anchored/smoothed)" }
        if ev.expr.range(of: #"fill(_left|_right)?\("#, options: .regularExpression) != nil { return "fill modifiers" }
        if ev.expr.range(of: #"\binfo\("#, options: .regularExpression) != nil { return "info()" }
        return nil
    }

    /// Every selector of an expression.
    static func selectors(_ e: Expr) -> [VectorSelector] {
        switch e {
        case .vectorSelector(let v): return [v]
        case .matrixSelector(let m): return [m.selector]
        case .subquery(let s): return selectors(s.expr)
        case .paren(let x, _), .unary(_, let x, _): return selectors(x)
        case .binary(let b): return selectors(b.lhs) + selectors(b.rhs)
        case .aggregate(let a): return selectors(a.expr) + (a.parameter.map(selectors) ?? [])
        case .call(let c): return c.args.flatMap(selectors)
        case .number, .string, .timeFunction: return []
        }
    }

    /// Whether `expr` names metric `name` (with `exact`, not as a prefix of a longer name).
    static func mentions(_ expr: String, _ name: String, exact: Bool = true) -> Bool {
        guard !name.isEmpty else { return false }
        var search = expr.startIndex..<expr.endIndex
        while let r = expr.range(of: name, range: search) {
            let before = r.lowerBound == expr.startIndex ? nil : expr[expr.index(before: r.lowerBound)]
            let after = r.upperBound == expr.endIndex ? nil : expr[r.upperBound]
            let boundaryBefore = before.map { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") } ?? true
            let boundaryAfter = after.map { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") } ?? true
            if boundaryBefore && boundaryAfter { return true }
            search = r.upperBound..<expr.endIndex
        }
        return false
    }

    /// nil when the eval meets its expectations, else what went wrong.
    func check(_ ev: TestScript.Eval) -> String? {
        let querier = head.querier()
        let result: QueryValue
        do {
            switch ev.kind {
            case .instant(let t):
                let at = ev.rangeVector?.end ?? t
                result = try engine.instantQuery(ev.expr, at: at, querier: querier).0
            case .range(let start, let end, let step):
                result = try engine.rangeQuery(ev.expr, start: start, end: end, step: step, querier: querier).0
            }
        } catch {
            return ev.expectFail ? nil : "unexpected error: \(error)"
        }
        if ev.expectFail { return "expected an error, got \(result.resultType)" }
        switch result {
        case .scalar(_, let v):
            if let want = ev.scalar { return Self.almostEqual(v, want) ? nil : "scalar \(v), want \(want)" }
            return "got scalar \(v), want \(ev.series.isEmpty ? "empty vector" : "vector")"
        case .string(_, let s):
            return s == ev.string ? nil : "string \"\(s)\", want \(ev.string.map { "\"\($0)\"" } ?? "no string")"
        case .vector(_, let vector):
            if ev.scalar != nil { return "got vector, want scalar" }
            return compareVector(vector, ev)
        case .matrix(let matrix):
            if ev.scalar != nil { return "got matrix, want scalar" }
            return compareMatrix(matrix, ev)
        }
    }

    func compareVector(_ vector: [VectorSample], _ ev: TestScript.Eval) -> String? {
        var expected: [Labels: (Double?, Int)] = [:]
        for (i, (labels, values)) in ev.series.enumerated() { expected[labels] = (values.first ?? nil, i) }
        if vector.count != ev.series.count { return "got \(vector.count) samples, want \(ev.series.count): \(vector.map { "\($0.labels) \($0.value)" }.prefix(5))" }
        for (i, s) in vector.enumerated() {
            guard let (want, position) = expected[s.labels] else { return "unexpected sample \(s.labels) \(s.value)" }
            guard let w = want, Self.almostEqual(s.value, w) else { return "\(s.labels): got \(s.value), want \(want.map { "\($0)" } ?? "_")" }
            if ev.ordered, position != i { return "\(s.labels) at position \(i), want \(position)" }
        }
        return nil
    }

    func compareMatrix(_ matrix: [SeriesResult], _ ev: TestScript.Eval) -> String? {
        let (start, step): (Int64, Int64)
        switch ev.kind {
        case .range(let a, _, let s): (start, step) = (a, s)
        case .instant: (start, step) = (ev.rangeVector?.start ?? 0, ev.rangeVector?.step ?? 1)
        }
        var expected: [Labels: [Sample]] = [:]
        for (labels, values) in ev.series {
            var points: [Sample] = []
            for (k, v) in values.enumerated() {
                if let v { points.append(Sample(timestamp: start + Int64(k) * step, value: v)) }
            }
            expected[labels] = points
        }
        let nonEmpty = matrix.filter { !$0.samples.isEmpty }
        if nonEmpty.count != expected.count { return "got \(nonEmpty.count) series, want \(expected.count): \(nonEmpty.map(\.labels).prefix(4))" }
        for series in nonEmpty {
            guard let want = expected[series.labels] else { return "unexpected series \(series.labels)" }
            guard series.samples.count == want.count else {
                return "\(series.labels): got \(series.samples.count) points, want \(want.count)"
            }
            for (g, w) in zip(series.samples, want) {
                if g.timestamp != w.timestamp || !Self.almostEqual(g.value, w.value) {
                    return "\(series.labels): got \(g.value)@\(g.timestamp), want \(w.value)@\(w.timestamp)"
                }
            }
        }
        return nil
    }

    /// FORMAT.md §8.1.
    static func almostEqual(_ a: Double, _ b: Double) -> Bool {
        if StaleMarker.isStale(a) || StaleMarker.isStale(b) { return StaleMarker.isStale(a) && StaleMarker.isStale(b) }
        if a.isNaN && b.isNaN { return true }
        if a == b { return true }
        let minNormal = 2.2250738585072014e-308
        let diff = abs(a - b)
        if a == 0 || b == 0 || abs(a) + abs(b) < minNormal { return diff < 1e-6 * minNormal }
        return diff / min(abs(a) + abs(b), .greatestFiniteMagnitude) < 1e-6
    }
}
