import Foundation
import TributaryModel

extension Expr {
    /// The expression in PromQL syntax, as Prometheus's `format_query` prints it on one line.
    public var formatted: String {
        switch self {
        case .number(let v, _):
            if v.isNaN { return "NaN" }
            if v.isInfinite { return v > 0 ? "Inf" : "-Inf" }
            return v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)"
        case .string(let s, _):
            return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n") + "\""
        case .vectorSelector(let v):
            return Self.selector(v)
        case .matrixSelector(let m):
            var s = Self.selectorBody(m.selector) + "[" + Self.duration(m.range) + "]"
            s += Self.modifiers(offset: m.selector.offset, at: m.selector.at)
            if m.mode != .standard { s += " " + m.mode.rawValue }
            return s
        case .subquery(let q):
            return q.expr.formatted + "[" + Self.duration(q.range) + ":" + (q.step > 0 ? Self.duration(q.step) : "") + "]"
                + Self.modifiers(offset: q.offset, at: q.at)
        case .paren(let e, _):
            return "(" + e.formatted + ")"
        case .unary(_, let e, _):
            return "-" + e.formatted
        case .binary(let b):
            var op = " " + b.op.rawValue + " "
            if b.returnBool { op += "bool " }
            if let m = b.matching, m.on || !m.labels.isEmpty || m.cardinality == .manyToOne || m.cardinality == .oneToMany {
                op += (m.on ? "on" : "ignoring") + "(" + m.labels.map(promQLLabelName).joined(separator: ", ") + ") "
                if m.cardinality == .manyToOne { op += "group_left(" + m.include.map(promQLLabelName).joined(separator: ", ") + ") " }
                if m.cardinality == .oneToMany { op += "group_right(" + m.include.map(promQLLabelName).joined(separator: ", ") + ") " }
            }
            return b.lhs.formatted + op + b.rhs.formatted
        case .aggregate(let a):
            var s = a.op.rawValue
            if !a.grouping.isEmpty || a.without { s += (a.without ? " without" : " by") + " (" + a.grouping.map(promQLLabelName).joined(separator: ", ") + ")" }
            s += " (" + (a.parameter.map { $0.formatted + ", " } ?? "") + a.expr.formatted + ")"
            return s
        case .call(let c):
            return c.function.name + "(" + c.args.map(\.formatted).joined(separator: ", ") + ")"
        case .timeFunction(let f, _):
            return f + "()"
        }
    }

    static func selector(_ v: VectorSelector) -> String {
        selectorBody(v) + modifiers(offset: v.offset, at: v.at) + (v.smoothed ? " smoothed" : "")
    }

    static func selectorBody(_ v: VectorSelector) -> String {
        let rest = v.matchers.filter { !($0.name == "__name__" && $0.type == .equal && $0.value == v.name) }
        // A UTF-8 metric name goes inside the braces, quoted: {"http.server.duration", job="x"}
        // (promQLLabelName quotes it: what is not a legacy metric name is no legacy label name).
        if let name = v.name, !isLegacyMetricName(name) {
            return "{" + ([promQLLabelName(name)] + rest.map(\.description)).joined(separator: ", ") + "}"
        }
        let name = v.name ?? ""
        if rest.isEmpty { return name }
        return name + "{" + rest.map(\.description).joined(separator: ", ") + "}"
    }

    static func modifiers(offset: Int64, at: AtModifier?) -> String {
        var s = ""
        if let at {
            switch at {
            case .timestamp(let t): s += " @ " + String(format: "%.3f", Double(t) / 1000)
            case .start: s += " @ start()"
            case .end: s += " @ end()"
            }
        }
        if offset != 0 { s += " offset " + (offset < 0 ? "-" : "") + duration(abs(offset)) }
        return s
    }

    /// Milliseconds as a Prometheus duration (`1h30m`, `500ms`).
    static func duration(_ ms: Int64) -> String {
        if ms == 0 { return "0s" }
        var rest = ms
        var out = ""
        for (unit, size) in [("y", Int64(365 * 86_400_000)), ("w", 7 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] {
            if rest >= size {
                out += String(rest / size) + unit
                rest %= size
            }
        }
        return out
    }
}
