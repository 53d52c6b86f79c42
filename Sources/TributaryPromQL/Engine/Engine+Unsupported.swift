/// Experimental PromQL that the parser reads (so `format_query` and the conformance corpus
/// parse) but the engine does not evaluate yet: a query using it is refused with `bad_data`,
/// never answered as if the feature were not there.
extension Expr {
    /// The first such feature in the expression, described for the error, or nil.
    var unsupportedFeature: String? {
        switch self {
        case .number, .string, .timeFunction: return nil
        case .vectorSelector(let v): return v.smoothed ? "the smoothed modifier" : nil
        case .matrixSelector(let m):
            switch m.mode {
            case .standard: return nil
            case .anchored: return "the anchored modifier"
            case .smoothed: return "the smoothed modifier"
            }
        case .subquery(let s): return s.expr.unsupportedFeature
        case .paren(let e, _), .unary(_, let e, _): return e.unsupportedFeature
        case .binary(let b):
            if b.fillLeft != nil || b.fillRight != nil { return "fill(), fill_left() and fill_right()" }
            return b.lhs.unsupportedFeature ?? b.rhs.unsupportedFeature
        case .aggregate(let a): return a.parameter?.unsupportedFeature ?? a.expr.unsupportedFeature
        case .call(let c):
            if c.function.name == "info" { return "info()" }
            for arg in c.args { if let f = arg.unsupportedFeature { return f } }
            return nil
        }
    }
}

extension Engine {
    /// Throws `bad_data` when `expr` uses a feature the engine does not evaluate yet.
    func refuseUnsupported(_ expr: Expr) throws(EvaluationError) {
        if let feature = expr.unsupportedFeature {
            throw EvaluationError(.badData, "\(feature) is not supported by Tributary yet (experimental in Prometheus 3); the query was not run")
        }
    }
}
