import Foundation

/// promql-test-queries.yml of the PromQL compliance tester, expanded (its NOTICE lists the
/// placeholder values, which live in the tester's Go code).
enum QueryList {
    static let variants: [String: [String]] = [
        "range": ["1s", "15s", "1m", "5m", "15m", "1h"],
        "offset": ["1m", "5m", "10m"],
        "simpleAggrOp": ["sum", "avg", "max", "min", "count", "stddev", "stdvar"],
        "simpleTimeAggrOp": ["sum", "avg", "max", "min", "count", "stddev", "stdvar", "absent", "last"],
        "topBottomOp": ["topk", "bottomk"],
        "quantile": ["-0.5", "0.1", "0.5", "0.75", "0.95", "0.90", "0.99", "1", "1.5"],
        "arithBinOp": ["+", "-", "*", "/", "%", "^"],
        "compBinOp": ["==", "!=", "<", ">", "<=", ">="],
        "binOp": ["+", "-", "*", "/", "%", "^", "==", "!=", "<", ">", "<=", ">="],
        "simpleMathFunc": ["abs", "ceil", "floor", "exp", "sqrt", "ln", "log2", "log10", "round"],
        "extrapolatedRateFunc": ["delta", "rate", "increase"],
        "clampFunc": ["clamp_min", "clamp_max"],
        "instantRateFunc": ["idelta", "irate"],
        "dateFunc": ["day_of_month", "day_of_week", "days_in_month", "hour", "minute", "month", "year"]
    ]

    struct Case {
        var query: String
        var shouldFail: Bool
    }

    static func load(_ path: String) throws -> [Case] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var templates: [(String, [String], Bool)] = []
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") { continue }
            if let r = line.range(of: "query: ") {
                var q = String(line[r.upperBound...])
                if (q.hasPrefix("'") && q.hasSuffix("'")) || (q.hasPrefix("\"") && q.hasSuffix("\"")) {
                    q = String(q.dropFirst().dropLast())
                    q = q.replacingOccurrences(of: "''", with: "'")
                }
                templates.append((q, [], false))
            } else if line.hasPrefix("variant_args:"), !templates.isEmpty {
                let inside = line.drop { $0 != "[" }.dropFirst().prefix { $0 != "]" }
                templates[templates.count - 1].1 = inside.split(separator: ",").map {
                    $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
                }
            } else if line.hasPrefix("should_fail: true"), !templates.isEmpty {
                templates[templates.count - 1].2 = true
            }
        }
        var out: [Case] = []
        for (query, args, fail) in templates {
            var expanded = [query]
            for arg in args {
                let values = variants[arg] ?? []
                expanded = expanded.flatMap { q in values.map { q.replacingOccurrences(of: "{{.\(arg)}}", with: $0) } }
            }
            out += expanded.map { Case(query: $0, shouldFail: fail) }
        }
        return out
    }
}
