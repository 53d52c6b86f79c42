import TributaryModel

extension Expr {
    /// The matchers of every vector selector in the expression, in order of appearance
    /// (Prometheus's `ExtractSelectors`; `query_exemplars` selects series with them).
    public var selectorMatchers: [[Matcher]] {
        var out: [[Matcher]] = []
        collectSelectors(into: &out)
        return out
    }

    private func collectSelectors(into out: inout [[Matcher]]) {
        switch self {
        case .number, .string, .timeFunction: break
        case .vectorSelector(let v): out.append(v.matchers)
        case .matrixSelector(let m): out.append(m.selector.matchers)
        case .subquery(let s): s.expr.collectSelectors(into: &out)
        case .paren(let e, _), .unary(_, let e, _): e.collectSelectors(into: &out)
        case .binary(let b):
            b.lhs.collectSelectors(into: &out)
            b.rhs.collectSelectors(into: &out)
        case .aggregate(let a):
            a.parameter?.collectSelectors(into: &out)
            a.expr.collectSelectors(into: &out)
        case .call(let c): for arg in c.args { arg.collectSelectors(into: &out) }
        }
    }
}
