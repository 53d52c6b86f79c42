import Foundation
import TributaryModel

extension Evaluator {
    mutating func call(_ c: Call, at t: Int64) throws(EvaluationError) -> StepValue {
        let name = c.function.name
        switch name {
        case "time": return .scalar(Double(t) / 1000)
        case "pi": return .scalar(Double.pi)
        case "vector":
            guard case .scalar(let v) = try eval(c.args[0], at: t) else { throw EvaluationError(.execution, "vector() needs a scalar") }
            return .vector([VectorSample(labels: .empty, value: v)])
        case "scalar":
            guard case .vector(let v) = try eval(c.args[0], at: t) else { throw EvaluationError(.execution, "scalar() needs a vector") }
            return .scalar(v.count == 1 ? v[0].value : .nan)
        case "min_of", "max_of":
            guard case .scalar(let a) = try eval(c.args[0], at: t), case .scalar(let b) = try eval(c.args[1], at: t) else {
                throw EvaluationError(.execution, "\(name) needs scalars")
            }
            if a.isNaN || b.isNaN { return .scalar(.nan) }
            return .scalar(name == "min_of" ? min(a, b) : max(a, b))
        case "absent":
            guard case .vector(let v) = try eval(c.args[0], at: t) else { return .vector([]) }
            return .vector(v.isEmpty ? [VectorSample(labels: Self.absentLabels(c.args[0]), value: 1)] : [])
        case "absent_over_time":
            guard case .matrix(let m) = try eval(c.args[0], at: t) else { return .vector([]) }
            return .vector(m.isEmpty ? [VectorSample(labels: Self.absentLabels(c.args[0]), value: 1)] : [])
        case "label_replace":
            return .vector(try labelReplace(c, at: t))
        case "label_join":
            return .vector(try labelJoin(c, at: t))
        case "sort", "sort_desc":
            guard case .vector(var v) = try eval(c.args[0], at: t) else { return .vector([]) }
            v.sort { name == "sort" ? Self.less($0.value, $1.value) : Self.greater($0.value, $1.value) }
            return .vector(v)
        case "sort_by_label", "sort_by_label_desc":
            guard case .vector(var v) = try eval(c.args[0], at: t) else { return .vector([]) }
            var names: [String] = []
            for arg in c.args.dropFirst() {
                if case .string(let s) = try eval(arg, at: t) { names.append(s) }
            }
            let descending = name == "sort_by_label_desc"
            v.sort { a, b in
                for n in names {
                    let x = a.labels.value(of: n) ?? "", y = b.labels.value(of: n) ?? ""
                    if x != y { return descending ? Self.naturalLess(y, x) : Self.naturalLess(x, y) }
                }
                return descending ? b.labels < a.labels : a.labels < b.labels
            }
            return .vector(v)
        case "timestamp":
            return .vector(timestampOf(c.args[0], at: t))
        case "histogram_quantile":
            return .vector(try histogramQuantile(c, at: t))
        case "histogram_fraction":
            return .vector(try histogramFraction(c, at: t))
        case "histogram_quantiles":
            return .vector(try histogramQuantiles(c, at: t))
        default:
            break
        }
        if c.function.argTypes.first == .matrix || name == "quantile_over_time" {
            return .vector(try rangeFunction(c, at: t))
        }
        return .vector(try instantFunction(c, at: t))
    }

    /// Labels for `absent(...)`: the equality matchers of a plain selector.
    static func absentLabels(_ expr: Expr) -> Labels {
        let selector: VectorSelector
        switch expr {
        case .vectorSelector(let v): selector = v
        case .matrixSelector(let m): selector = m.selector
        default: return .empty
        }
        var builder = LabelsBuilder()
        var seen: [String: Int] = [:]
        for m in selector.matchers where m.name != "__name__" {
            seen[m.name, default: 0] += 1
        }
        for m in selector.matchers where m.type == .equal && m.name != "__name__" && seen[m.name] == 1 {
            builder.set(m.name, m.value)
        }
        return builder.labels()
    }

    /// Evaluates without changing this evaluator's annotations (for timestamp()).
    func evalCopy(_ expr: Expr, at t: Int64) throws(EvaluationError) -> StepValue {
        var copy = self
        return try copy.eval(expr, at: t)
    }

    func timestampOf(_ arg: Expr, at t: Int64) -> [VectorSample] {
        // timestamp(selector) returns the time of the sample the selector picked.
        var inner = arg
        while case .paren(let e, _) = inner { inner = e }
        guard case .vectorSelector(let v) = inner else {
            // Any other expression yields new samples stamped with the evaluation time.
            guard case .vector(let vector)? = try? evalCopy(arg, at: t) else { return [] }
            return vector.map { s in
                var x = s
                x.value = Double(t) / 1000
                x.dropName = true
                return x
            }
        }
        let ref = (v.at.map(resolve) ?? t) - offset(v.offset, v.offsetExpr)
        var out: [VectorSample] = []
        for s in loaded[v.positionRange.start] ?? [] {
            guard let i = Self.lastIndex(s.samples, atOrBefore: ref) else { continue }
            let sample = s.samples[i]
            guard sample.timestamp > ref - options.lookbackDelta, !sample.isStale else { continue }
            var x = VectorSample(labels: s.labels, value: Double(sample.timestamp) / 1000)
            x.dropName = true
            out.append(x)
        }
        queryable.count += out.count
        return out
    }

    /// Compares label values as Prometheus's sort_by_label does (natural order of digits).
    static func naturalLess(_ a: String, _ b: String) -> Bool {
        a.compare(b, options: [.numeric]) == .orderedAscending
    }

    mutating func labelReplace(_ c: Call, at t: Int64) throws(EvaluationError) -> [VectorSample] {
        guard case .vector(let v) = try eval(c.args[0], at: t),
            case .string(let dst) = try eval(c.args[1], at: t), case .string(let replacement) = try eval(c.args[2], at: t),
            case .string(let src) = try eval(c.args[3], at: t), case .string(let pattern) = try eval(c.args[4], at: t)
        else {
            throw EvaluationError(.execution, "label_replace needs a vector and four strings")
        }
        let regex: Regex<AnyRegexOutput>
        do {
            regex = try Regex("^(?s:" + pattern + ")$").matchingSemantics(.unicodeScalar)
        } catch {
            throw EvaluationError(.execution, "invalid regular expression in label_replace(): \(pattern)")
        }
        guard Self.isValidLabelName(dst), dst.first.map({ !$0.isNumber }) ?? false else {
            throw EvaluationError(.execution, "invalid destination label name in label_replace(): \(dst)")
        }
        var out: [VectorSample] = []
        for s in v {
            let value = s.labels.value(of: src) ?? ""
            var sample = s
            if let match = try? regex.wholeMatch(in: value) {
                let expanded = Self.expand(replacement, match)
                sample.labels = s.labels.setting(dst, expanded)
                sample.id = -1
                if dst == "__name__" { sample.dropName = false }
            }
            out.append(sample)
        }
        return out
    }

    /// Replaces `$1`, `${1}`, `$name` in `template` with the match's groups.
    static func expand(_ template: String, _ match: Regex<AnyRegexOutput>.Match) -> String {
        var out = ""
        let chars = Array(template)
        var i = 0
        while i < chars.count {
            if chars[i] == "$", i + 1 < chars.count {
                var j = i + 1
                var nameChars = ""
                if chars[j] == "{" {
                    j += 1
                    while j < chars.count, chars[j] != "}" { nameChars.append(chars[j]); j += 1 }
                    j += 1
                } else if chars[j] == "$" {
                    out.append("$")
                    i = j + 1
                    continue
                } else {
                    while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" { nameChars.append(chars[j]); j += 1 }
                }
                if let n = Int(nameChars) {
                    if n < match.output.count, let sub = match.output[n].substring { out += sub }
                } else if !nameChars.isEmpty, let sub = match.output[nameChars]?.substring {
                    out += sub
                }
                i = j
                continue
            }
            out.append(chars[i])
            i += 1
        }
        return out
    }

    mutating func labelJoin(_ c: Call, at t: Int64) throws(EvaluationError) -> [VectorSample] {
        guard case .vector(let v) = try eval(c.args[0], at: t), case .string(let dst) = try eval(c.args[1], at: t),
            case .string(let separator) = try eval(c.args[2], at: t)
        else {
            throw EvaluationError(.execution, "label_join needs a vector and strings")
        }
        var sources: [String] = []
        for arg in c.args.dropFirst(3) {
            guard case .string(let s) = try eval(arg, at: t) else { throw EvaluationError(.execution, "label_join needs strings") }
            sources.append(s)
        }
        guard Self.isValidLabelName(dst) else { throw EvaluationError(.execution, "invalid destination label name in label_join(): \(dst)") }
        return v.map { s in
            var sample = s
            let joined = sources.map { s.labels.value(of: $0) ?? "" }.joined(separator: separator)
            sample.labels = s.labels.setting(dst, joined)
            sample.id = -1
            if dst == "__name__" { sample.dropName = false }
            return sample
        }
    }
}
