import Foundation
import TributaryModel
import TributaryPromQL

/// A parsed `.test` script (format: ../shared/conformance/promql/FORMAT.md).
struct TestScript {
    enum Command {
        case clear
        case load(interval: Int64, series: [(Labels, [Double?])], histograms: [Labels], nhcb: Bool, line: Int)
        case eval(Eval)
    }

    struct Eval {
        enum Kind { case instant(Int64), range(start: Int64, end: Int64, step: Int64) }
        var kind: Kind
        var expr: String
        var line: Int
        var expectFail = false
        var ordered = false
        var scalar: Double?
        var string: String?
        var rangeVector: (start: Int64, end: Int64, step: Int64)?
        var series: [(Labels, [Double?])] = []
        /// Why the runner cannot judge this eval (native histograms, start timestamps, …).
        var unsupported: String?
    }

    var commands: [Command] = []

    struct ScriptError: Error, CustomStringConvertible {
        var line: Int
        var message: String
        var description: String { "line \(line): \(message)" }
    }

    init(_ text: String) throws {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let t = line.trimmingCharacters(in: .whitespacesAndNewlines)
            return t.hasPrefix("#") ? "" : t
        }
        var i = 0
        while i < lines.count {
            let line = lines[i]
            if line.isEmpty { i += 1; continue }
            let word = line.split(separator: " ").first.map { $0.lowercased() } ?? ""
            if word == "clear" {
                commands.append(.clear)
                i += 1
            } else if word.hasPrefix("load") {
                let parts = line.split(separator: " ", maxSplits: 1)
                guard parts.count == 2, let interval = PrometheusDuration.parse(String(parts[1]).trimmingCharacters(in: .whitespaces)) else {
                    throw ScriptError(line: i + 1, message: "bad load header")
                }
                var series: [(Labels, [Double?])] = []
                var histograms: [Labels] = []
                var j = i + 1
                while j < lines.count, !lines[j].isEmpty {
                    let (desc, values) = try Self.seriesLine(lines[j], line: j + 1)
                    if desc.hasSuffix("@st") { j += 1; continue }
                    let labels = try Self.labels(desc, line: j + 1)
                    if values.contains("{{") {
                        histograms.append(labels)
                    } else {
                        series.removeAll { $0.0 == labels }
                        series.append((labels, try Self.values(values, line: j + 1)))
                    }
                    j += 1
                }
                commands.append(.load(interval: interval, series: series, histograms: histograms, nhcb: word.contains("nhcb"), line: i + 1))
                i = j
            } else if word.hasPrefix("eval") {
                var ev = try Self.evalHeader(line, line: i + 1)
                if word == "eval_fail" { ev.expectFail = true }
                if word == "eval_ordered" { ev.ordered = true }
                var j = i + 1
                while j < lines.count, !lines[j].isEmpty {
                    let body = lines[j]
                    j += 1
                    if body.hasPrefix("expected_fail_message") || body.hasPrefix("expected_fail_regexp") { break }
                    if body.hasPrefix("expect range vector") {
                        let w = body.split(separator: " ")
                        guard w.count == 9, let a = PrometheusDuration.parse(String(w[4])), let b = PrometheusDuration.parse(String(w[6])),
                            let s = PrometheusDuration.parse(String(w[8]))
                        else { throw ScriptError(line: j, message: "bad expect range vector") }
                        ev.rangeVector = (a, b, s)
                        continue
                    }
                    if body.hasPrefix("expect string") {
                        ev.string = Self.unquote(String(body.dropFirst("expect string".count)).trimmingCharacters(in: .whitespaces))
                        continue
                    }
                    if body.split(separator: " ").first == "expect" {
                        let w = body.split(separator: " ", maxSplits: 2)
                        switch w.count > 1 ? String(w[1]) : "" {
                        case "fail": ev.expectFail = true
                        case "ordered": ev.ordered = true
                        default: break  // warn/info: annotations are not checked (lenient mode)
                        }
                        continue
                    }
                    if let n = Self.number(body) {
                        ev.scalar = n
                        break
                    }
                    let (desc, values) = try Self.seriesLine(body, line: j)
                    if values.contains("{{") {
                        ev.unsupported = "native histogram in expectation"
                        continue
                    }
                    ev.series.append((try Self.labels(desc, line: j), try Self.values(values, line: j)))
                }
                commands.append(.eval(ev))
                i = j
            } else {
                throw ScriptError(line: i + 1, message: "invalid command \(word)")
            }
        }
    }

    static func evalHeader(_ line: String, line n: Int) throws -> Eval {
        let w = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        if w.count > 4, w[1] == "instant", w[2] == "at", let t = PrometheusDuration.parse(w[3]) {
            return Eval(kind: .instant(t), expr: w[4...].joined(separator: " "), line: n)
        }
        if w.count > 8, w[1] == "range", w[2] == "from", w[4] == "to", w[6] == "step",
            let a = PrometheusDuration.parse(w[3]), let b = PrometheusDuration.parse(w[5]), let s = PrometheusDuration.parse(w[7])
        {
            return Eval(kind: .range(start: a, end: b, step: s), expr: w[8...].joined(separator: " "), line: n)
        }
        throw ScriptError(line: n, message: "bad eval header")
    }

    /// Splits `series values…` at the end of the series description.
    static func seriesLine(_ line: String, line n: Int) throws -> (String, String) {
        let chars = Array(line)
        var depth = 0, inQuote = false, i = 0
        while i < chars.count {
            let c = chars[i]
            if inQuote {
                if c == "\\" { i += 2; continue }
                if c == "\"" { inQuote = false }
            } else if c == "\"" {
                inQuote = true
            } else if c == "{" {
                depth += 1
            } else if c == "}" {
                depth -= 1
                if depth == 0 { i += 1; break }
            } else if c == " " || c == "\t", depth == 0 {
                break
            }
            i += 1
        }
        if i + 3 <= chars.count, String(chars[i..<(i + 3)]) == "@st" { i += 3 }
        return (String(chars[0..<i]), String(chars[i...]).trimmingCharacters(in: .whitespaces))
    }

    static func labels(_ desc: String, line n: Int) throws -> Labels {
        let d = desc.hasSuffix("@st") ? String(desc.dropLast(3)) : desc
        if d == "{}" { return .empty }
        do {
            guard case .vectorSelector(let v) = try Parser.parse(d) else { throw ScriptError(line: n, message: "not a series: \(d)") }
            var b = LabelsBuilder()
            for m in v.matchers { b.set(m.name, m.value) }
            return b.labels()
        } catch let error as ParseError {
            throw ScriptError(line: n, message: "\(d): \(error)")
        }
    }

    /// Expands a value sequence (§5); nil entries are omitted positions.
    static func values(_ text: String, line n: Int) throws -> [Double?] {
        var out: [Double?] = []
        for item in text.split(separator: " ", omittingEmptySubsequences: true).map(String.init) {
            if item == "_" { out.append(nil); continue }
            if item.hasPrefix("_x"), let k = Int(item.dropFirst(2)) { out += Array(repeating: nil, count: k); continue }
            if item == "stale" { out.append(StaleMarker.value); continue }
            if let v = number(item) { out.append(v); continue }
            // a+bxN, a-bxN, vxN
            guard let x = item.lastIndex(of: "x"), let count = Int(item[item.index(after: x)...]) else {
                throw ScriptError(line: n, message: "bad value \(item)")
            }
            let head = String(item[..<x])
            if let v = number(head) {
                out += Array(repeating: v, count: count + 1)
                continue
            }
            // Find the operator after the (optionally signed) start value.
            let chars = Array(head)
            var split: Int?
            var k = 1
            while k < chars.count {
                if (chars[k] == "+" || chars[k] == "-"), chars[k - 1] != "e", chars[k - 1] != "E" { split = k; break }
                k += 1
            }
            guard let s = split, let a = number(String(chars[0..<s])), let b = number(String(chars[(s + 1)...])) else {
                throw ScriptError(line: n, message: "bad value \(item)")
            }
            var v = a
            out.append(v)
            for _ in 0..<count {
                if chars[s] == "+" { v += b } else { v -= b }
                out.append(v)
            }
        }
        return out
    }

    static func number(_ s: String) -> Double? {
        switch s.lowercased() {
        case "inf", "+inf": return .infinity
        case "-inf": return -.infinity
        case "nan", "+nan", "-nan": return .nan
        default: break
        }
        // Swift's Double(_:) would read "0x59" as hexadecimal; `x` is the repeat marker here.
        guard let first = s.first, first.isNumber || first == "-" || first == "+" || first == ".",
            !s.contains("x"), !s.contains("X")
        else { return nil }
        return Double(s)
    }

    static func unquote(_ s: String) -> String {
        guard s.count >= 2 else { return s }
        if case .string(let v, _)? = try? Parser.parse(s) { return v }
        return String(s.dropFirst().dropLast())
    }
}
