import Foundation
import Testing
import TributaryModel

@testable import TributaryPromQL

@Suite struct ParserTests {
    func parse(_ q: String, sourceLocation: SourceLocation = #_sourceLocation) -> Expr? {
        do {
            return try Parser.parse(q)
        } catch {
            Issue.record("\(q): \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    /// The tree in a compact prefix form, to check precedence and associativity.
    func shape(_ e: Expr) -> String {
        switch e {
        case .number(let v, _): return v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
        case .string(let s, _): return "\"\(s)\""
        case .vectorSelector(let v): return v.name ?? "{…}"
        case .matrixSelector(let m): return "\(m.selector.name ?? "{…}")[\(m.range)ms]"
        case .subquery(let s): return "(\(shape(s.expr)))[\(s.range)ms:\(s.step)ms]"
        case .paren(let inner, _): return shape(inner)
        case .unary(_, let inner, _): return "(- \(shape(inner)))"
        case .binary(let b): return "(\(b.op.rawValue)\(b.returnBool ? " bool" : "") \(shape(b.lhs)) \(shape(b.rhs)))"
        case .aggregate(let a): return "(\(a.op.rawValue)\(a.without ? " without" : " by")\(a.grouping) \(a.parameter.map { shape($0) + " " } ?? "")\(shape(a.expr)))"
        case .call(let c): return "(\(c.function.name) \(c.args.map(shape).joined(separator: " ")))"
        case .timeFunction(let f, _): return "\(f)()"
        }
    }

    static let shapes: [(String, String)] = [
        ("1 + 2 * 3", "(+ 1 (* 2 3))"),
        ("2 ^ 3 ^ 2", "(^ 2 (^ 3 2))"),
        ("-2 ^ 2", "-4" == "" ? "" : "(- (^ 2 2))"),
        ("-a * b", "(* (- a) b)"),
        ("a - b - c", "(- (- a b) c)"),
        ("a or b and c unless d", "(or a (unless (and b c) d))"),
        ("a > bool 1", "(> bool a 1)"),
        ("a == b + 1", "(== a (+ b 1))"),
        ("sum by (job) (rate(x[5m]))", "(sum by[\"job\"] (rate x[300000ms]))"),
        ("sum(rate(x[5m])) without (instance)", "(sum without[\"instance\"] (rate x[300000ms]))"),
        ("topk(3, x)", "(topk by[] 3 x)"),
        ("count_values(\"v\", x)", "(count_values by[] \"v\" x)"),
        ("histogram_quantile(0.9, sum by (le) (rate(x_bucket[1h30m])))", "(histogram_quantile 0.9 (sum by[\"le\"] (rate x_bucket[5400000ms])))"),
        ("rate(x[5m:30s])", "(rate (x)[300000ms:30000ms])"),
        ("max_over_time(deriv(x[1m])[10m:])", "(max_over_time ((deriv x[60000ms]))[600000ms:0ms])"),
        ("x offset 5m", "x"),
        ("x @ 100", "x"),
        ("0x1F + .5 + 2. + 1e3", "(+ (+ (+ 31 0.5) 2) 1000)"),
        ("foo:bar:rate5m", "foo:bar:rate5m"),
        ("{__name__=~\"job:.*\"}", "{…}"),
        ("time() - start()", "(- (time ) start())"),
        ("a / on(instance) group_left(job) b", "(/ a b)")
    ]

    @Test(arguments: shapes)
    func precedenceAndShapes(_ c: (String, String)) {
        guard let e = parse(c.0) else { return }
        if c.0 == "-2 ^ 2" {
            // Prometheus folds -(2^2) only for literals directly after the sign; ^ binds tighter.
            #expect(shape(e) == "(- (^ 2 2))")
            return
        }
        #expect(shape(e) == c.1, "\(c.0)")
    }

    /// Prometheus 3's UTF-8 names: quoted in selectors, grouping and matching, and printed back
    /// quoted (format_query), legacy names bare.
    @Test func utf8NamesParseAndPrintQuoted() throws {
        let cases = [
            ("{\"http.server.duration\"}", "{\"http.server.duration\"}"),
            ("{\"http.server.duration\", \"service.name\"=\"checkout\"}", "{\"http.server.duration\", \"service.name\"=\"checkout\"}"),
            ("sum by (\"service.name\", job) (rate({\"a.b_total\"}[5m]))", "sum by (\"service.name\", job) (rate({\"a.b_total\"}[5m]))"),
            ("a / on(\"k.8s\") b", "a / on(\"k.8s\") b"),
            ("{\"up\"}", "up")
        ]
        for (query, printed) in cases {
            let e = try Parser.parse(query)
            #expect(e.formatted == printed, "\(query)")
            #expect(try Parser.parse(e.formatted).formatted == printed, "\(query) reparses")
        }
        guard case .vectorSelector(let v) = try Parser.parse("{\"http.server.duration\", \"service.name\"=\"x\"}") else { throw ParseFailure() }
        #expect(v.matchers.map(\.name) == ["__name__", "service.name"])
        #expect(try Parser.parse("rate({\"a.b\"}[1m]) + on(x) group_left sum({c=\"d\"})").selectorMatchers.map { $0.map(\.description) } == [["__name__=\"a.b\""], ["c=\"d\""]])
    }

    struct ParseFailure: Error {}

    @Test func modifiersAreRecorded() throws {
        guard case .vectorSelector(let v)? = parse("x{job=\"a\"} offset -5m @ 1500.5") else { Issue.record("not a selector"); return }
        #expect(v.offset == -300_000)
        #expect(v.at == .timestamp(1_500_500))
        #expect(v.matchers.map(\.description) == ["__name__=\"x\"", "job=\"a\""])
        guard case .binary(let b)? = parse("a * on(x, y) group_right(z) b") else { Issue.record("not binary"); return }
        #expect(b.matching == VectorMatching(cardinality: .oneToMany, on: true, labels: ["x", "y"], include: ["z"]))
        guard case .matrixSelector(let m)? = parse("x[5m] @ end()") else { Issue.record("not matrix"); return }
        #expect(m.selector.at == .end)
    }

    @Test func stringsUnescape() {
        guard case .string(let s, _)? = parse(#""a\tb\"c\x41\u00e9\101""#) else { Issue.record("not a string"); return }
        #expect(s == "a\tb\"cAéA")
        guard case .string(let raw, _)? = parse("`a\\n`") else { return }
        #expect(raw == "a\\n")
    }

    static let errors: [(String, String)] = [
        ("sum(", "1:5: parse error: unexpected end of input"),
        ("1 +", "1:4: parse error: unexpected end of input"),
        ("foo{", "1:5: parse error: unexpected end of input, expected label"),
        ("{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"),
        ("{job=~\".*\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"),
        ("rate(x)", "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"),
        ("nosuchfunc(x)", "1:1: parse error: unknown function with name \"nosuchfunc\""),
        ("sum(x[5m])", "1:5: parse error: expected type instant vector in aggregation expression, got range vector"),
        ("1 > 2", "1:1: parse error: comparisons between scalars must use BOOL modifier"),
        ("a + bool b", "1:1: parse error: bool modifier can only be used on comparison operators"),
        ("1 and x", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"),
        ("(a + b)[5m]", "1:8: parse error: ranges only allowed for vector selectors"),
        ("x{a=~\"(\"}", "1:6: parse error: error parsing regexp \"(\""),
        ("\"unterminated", "1:1: parse error: unterminated quoted string"),
        ("x offset 5m offset 1m", "1:13: parse error: offset may not be set multiple times"),
        ("foo{__name__=\"bar\"}", "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""),
        ("topk(x)", "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1"),
        ("x[5m", "1:5: parse error: unexpected end of input, expected \"]\" or \":\""),
        ("1 $ 2", "1:3: parse error: unexpected character: '$'")
    ]

    @Test(arguments: errors)
    func errorsNamePosition(_ c: (String, String)) {
        do {
            let e = try Parser.parse(c.0)
            Issue.record("\(c.0) parsed as \(e)")
        } catch {
            #expect(error.description.hasPrefix(c.1), "\(c.0): got \(error.description)")
        }
    }

    /// Every expression of Prometheus's own test scripts parses (the files use experimental
    /// syntax too; what we do not parse yet is counted and listed, never hidden).
    @Test func conformanceCorpusExpressionsParse() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/conformance/promql").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".test") }.sorted()
        #expect(files.count >= 20, "conformance scripts missing at \(folder.path)")
        var total = 0, parsed = 0
        var failures: [String] = []
        for file in files {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                guard let expr = Self.expression(ofEval: trimmed) else { continue }
                total += 1
                do {
                    _ = try Parser.parse(expr)
                    parsed += 1
                } catch {
                    failures.append("\(file): \(expr)  →  \(error)")
                }
            }
        }
        print("PromQL parser: \(parsed) of \(total) conformance expressions parse; \(failures.count) do not:")
        for f in failures { print("  \(f)") }
        #expect(total > 2000)
        #expect(Double(parsed) / Double(total) > 0.9)
    }

    /// The expression of an `eval` line (FORMAT.md §7.1), or nil.
    static func expression(ofEval line: String) -> String? {
        let words = line.split(separator: " ", omittingEmptySubsequences: true)
        guard let first = words.first, first.hasPrefix("eval") else { return nil }
        if words.count > 3, words[1] == "instant", words[2] == "at" {
            return words[4...].joined(separator: " ")
        }
        if words.count > 7, words[1] == "range", words[2] == "from", words[4] == "to", words[6] == "step" {
            return words[8...].joined(separator: " ")
        }
        return nil
    }
}
