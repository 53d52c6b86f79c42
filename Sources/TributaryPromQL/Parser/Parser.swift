import TributaryModel

/// Parses PromQL into an ``Expr``, with Prometheus's precedence (`^` right-associative, unary
/// minus binding like `*`), its type checks and error messages that carry positions.
public struct Parser {
    var tokens: [Token]
    var index = 0
    let query: String

    /// Parses `query`.
    /// - Throws: ``ParseError`` with the position of the first problem.
    public static func parse(_ query: String) throws(ParseError) -> Expr {
        var lexer = Lexer(query)
        var parser = Parser(tokens: try lexer.tokenize(), query: query)
        let expr = try parser.parseExpr(0)
        guard parser.current.kind == .eof else {
            throw parser.unexpected(parser.current)
        }
        try TypeCheck(query: query).check(expr)
        return expr
    }

    var current: Token { tokens[index] }
    func peek(_ k: Int = 1) -> Token { tokens[min(index + k, tokens.count - 1)] }

    mutating func advance() -> Token {
        let t = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return t
    }

    func error(_ message: String, _ range: PositionRange) -> ParseError {
        ParseError(message, at: range, in: query)
    }

    func unexpected(_ t: Token, expecting: String? = nil) -> ParseError {
        var message = "unexpected \(t)"
        if let expecting { message += ", expected \(expecting)" }
        return error(message, t.range)
    }

    /// True when the current token is the keyword `word` (keywords ignore case).
    func atKeyword(_ word: String) -> Bool {
        current.kind == .identifier && current.text.lowercased() == word
    }

    mutating func expect(_ kind: Token.Kind, _ what: String) throws(ParseError) -> Token {
        guard current.kind == kind else { throw unexpected(current, expecting: what) }
        return advance()
    }

    // MARK: binary expressions

    mutating func parseExpr(_ minPrecedence: Int) throws(ParseError) -> Expr {
        var lhs = try parseUnary()
        while case .op(let op) = current.kind, op.precedence >= minPrecedence {
            _ = advance()
            var returnBool = false
            if atKeyword("bool") {
                _ = advance()
                returnBool = true
            }
            var matching: VectorMatching?
            if atKeyword("on") || atKeyword("ignoring") {
                var m = VectorMatching()
                m.on = advance().text.lowercased() == "on"
                m.labels = try parseLabelList()
                if atKeyword("group_left") || atKeyword("group_right") {
                    m.cardinality = advance().text.lowercased() == "group_left" ? .manyToOne : .oneToMany
                    if current.kind == .leftParen { m.include = try parseLabelList() }
                }
                matching = m
            } else if atKeyword("group_left") || atKeyword("group_right") {
                throw error("unexpected \(current.text): use on() or ignoring() first", current.range)
            }
            var fillLeft: Double?, fillRight: Double?
            while atKeyword("fill") || atKeyword("fill_left") || atKeyword("fill_right"), peek().kind == .leftParen {
                let which = advance().text.lowercased()
                _ = advance()
                var sign = 1.0
                if case .op(let s) = current.kind, s == .sub || s == .add {
                    sign = s == .sub ? -1 : 1
                    _ = advance()
                }
                guard current.kind == .number else { throw unexpected(current, expecting: "number") }
                let value = sign * (try numberValue(advance()))
                _ = try expect(.rightParen, "\")\"")
                if which != "fill_right" { fillLeft = value }
                if which != "fill_left" { fillRight = value }
            }
            let next = op.isRightAssociative ? op.precedence : op.precedence + 1
            let rhs = try parseExpr(next)
            if op.isSetOperator {
                var m = matching ?? VectorMatching()
                if m.cardinality == .oneToOne { m.cardinality = .manyToMany }
                matching = m
            }
            lhs = .binary(BinaryExpr(op: op, lhs: lhs, rhs: rhs, returnBool: returnBool, matching: matching, fillLeft: fillLeft, fillRight: fillRight))
        }
        return lhs
    }

    mutating func parseUnary() throws(ParseError) -> Expr {
        if case .op(let op) = current.kind, op == .add || op == .sub {
            let start = advance().range
            let operand = try parseExpr(BinaryOp.pow.precedence)
            let range = start.union(operand.positionRange)
            // Fold a sign into a number literal, as Prometheus does.
            if case .number(let v, _) = operand {
                return .number(op == .sub ? -v : v, range)
            }
            if op == .add { return operand }
            return .unary(negate: true, operand, range)
        }
        let primary = try parsePrimary()
        return try parsePostfix(primary)
    }

    // MARK: postfix: [range], [range:step], offset, @

    mutating func parsePostfix(_ expr: Expr) throws(ParseError) -> Expr {
        var expr = expr
        while true {
            if current.kind == .leftBracket {
                expr = try parseRangeOrSubquery(expr)
            } else if atKeyword("offset") {
                let keyword = advance()
                let (e, range) = try parseDurationAtom(allowBinary: false)
                let (offset, offsetExpr) = try resolve(e, range)
                expr = try setOffset(expr, offset, offsetExpr, keyword.range.union(range))
            } else if (atKeyword("anchored") || atKeyword("smoothed")), case .matrixSelector(var m) = expr {
                let word = advance()
                m.mode = word.text.lowercased() == "anchored" ? .anchored : .smoothed
                m.positionRange = m.positionRange.union(word.range)
                expr = .matrixSelector(m)
            } else if atKeyword("smoothed"), case .vectorSelector(var v) = expr {
                v.smoothed = true
                v.positionRange = v.positionRange.union(advance().range)
                expr = .vectorSelector(v)
            } else if current.kind == .at {
                let at = advance()
                let modifier: AtModifier
                var end = current.range
                if atKeyword("start") || atKeyword("end") {
                    let word = advance().text.lowercased()
                    _ = try expect(.leftParen, "\"(\"")
                    end = try expect(.rightParen, "\")\"").range
                    modifier = word == "start" ? .start : .end
                } else {
                    var sign = 1.0
                    if case .op(let s) = current.kind, s == .sub || s == .add {
                        sign = s == .sub ? -1 : 1
                        _ = advance()
                    }
                    end = current.range
                    let seconds: Double
                    switch current.kind {
                    case .number: seconds = sign * (try numberValue(advance()))
                    case .duration:
                        guard let ms = PrometheusDuration.parse(advance().text) else { throw error("bad duration syntax", end) }
                        seconds = sign * Double(ms) / 1000
                    default: throw unexpected(current, expecting: "timestamp")
                    }
                    guard seconds.isFinite, abs(seconds) < 9.2e15 else {
                        throw error("timestamp out of bounds for @ modifier: \(seconds)", at.range.union(end))
                    }
                    modifier = .timestamp(Int64((seconds * 1000).rounded()))
                }
                expr = try setAt(expr, modifier, at.range.union(end))
            } else {
                return expr
            }
        }
    }

    mutating func parseRangeOrSubquery(_ expr: Expr) throws(ParseError) -> Expr {
        let open = advance()
        let (rangeE, rangeRange) = try parseDurationExpr()
        let (range, rangeExpr) = try resolve(rangeE, rangeRange)
        if current.kind == .colon {
            _ = advance()
            var step: Int64 = 0
            var stepExpr: DurationExpr?
            if current.kind != .rightBracket {
                let (e, r) = try parseDurationExpr()
                (step, stepExpr) = try resolve(e, r)
            }
            let close = try expect(.rightBracket, "\"]\"")
            guard expr.type == .vector else {
                throw error("subquery is only allowed on instant vector, got \(expr.type.rawValue) instead", expr.positionRange)
            }
            return .subquery(
                Subquery(
                    expr: expr, range: range, rangeExpr: rangeExpr, step: step, stepExpr: stepExpr,
                    positionRange: expr.positionRange.union(close.range)))
        }
        let close = try expect(.rightBracket, "\"]\" or \":\"")
        guard case .vectorSelector(let selector) = expr else {
            throw error("ranges only allowed for vector selectors", open.range.union(close.range))
        }
        if selector.offset != 0 || selector.at != nil {
            throw error("no offset or @ modifiers allowed before range", open.range)
        }
        return .matrixSelector(MatrixSelector(selector: selector, range: range, rangeExpr: rangeExpr, positionRange: selector.positionRange.union(close.range)))
    }

    func setOffset(_ expr: Expr, _ offset: Int64, _ offsetExpr: DurationExpr?, _ range: PositionRange) throws(ParseError) -> Expr {
        switch expr {
        case .vectorSelector(var v):
            guard v.offset == 0, v.offsetExpr == nil else { throw error("offset may not be set multiple times", range) }
            v.offset = offset
            v.offsetExpr = offsetExpr
            v.positionRange = v.positionRange.union(range)
            return .vectorSelector(v)
        case .matrixSelector(var m):
            guard m.selector.offset == 0, m.selector.offsetExpr == nil else { throw error("offset may not be set multiple times", range) }
            m.selector.offset = offset
            m.selector.offsetExpr = offsetExpr
            m.positionRange = m.positionRange.union(range)
            return .matrixSelector(m)
        case .subquery(var s):
            guard s.offset == 0, s.offsetExpr == nil else { throw error("offset may not be set multiple times", range) }
            s.offset = offset
            s.offsetExpr = offsetExpr
            s.positionRange = s.positionRange.union(range)
            return .subquery(s)
        default:
            throw error("offset modifier must be preceded by an instant vector selector or range vector selector or a subquery", range)
        }
    }

    func setAt(_ expr: Expr, _ at: AtModifier, _ range: PositionRange) throws(ParseError) -> Expr {
        switch expr {
        case .vectorSelector(var v):
            guard v.at == nil else { throw error("@ <timestamp> may not be set multiple times", range) }
            v.at = at
            v.positionRange = v.positionRange.union(range)
            return .vectorSelector(v)
        case .matrixSelector(var m):
            guard m.selector.at == nil else { throw error("@ <timestamp> may not be set multiple times", range) }
            m.selector.at = at
            m.positionRange = m.positionRange.union(range)
            return .matrixSelector(m)
        case .subquery(var s):
            guard s.at == nil else { throw error("@ <timestamp> may not be set multiple times", range) }
            s.at = at
            s.positionRange = s.positionRange.union(range)
            return .subquery(s)
        default:
            throw error("@ modifier must be preceded by an instant vector selector or range vector selector or a subquery", range)
        }
    }

    // MARK: primary expressions

    mutating func parsePrimary() throws(ParseError) -> Expr {
        let t = current
        switch t.kind {
        case .number:
            _ = advance()
            return .number(try numberValue(t), t.range)
        case .duration:
            // A duration where a number is expected means seconds (Prometheus 3).
            _ = advance()
            guard let ms = PrometheusDuration.parse(t.text) else { throw error("bad duration syntax: \"\(t.text)\"", t.range) }
            return .number(Double(ms) / 1000, t.range)
        case .string:
            _ = advance()
            return .string(t.text, t.range)
        case .leftParen:
            _ = advance()
            let inner = try parseExpr(0)
            let close = try expect(.rightParen, "\")\"")
            return .paren(inner, t.range.union(close.range))
        case .leftBrace:
            return .vectorSelector(try parseSelector(name: nil, start: t.range))
        case .metricIdentifier:
            _ = advance()
            return .vectorSelector(try parseSelector(name: t.text, start: t.range))
        case .identifier:
            return try parseIdentifierExpr()
        case .eof:
            throw error("unexpected end of input", t.range)
        default:
            throw unexpected(t)
        }
    }

    mutating func parseIdentifierExpr() throws(ParseError) -> Expr {
        let t = current
        let next = peek()
        if let op = AggregateOp(rawValue: t.text.lowercased()),
            next.kind == .leftParen || (next.kind == .identifier && ["by", "without"].contains(next.text.lowercased()))
        {
            return try parseAggregate(op)
        }
        if next.kind == .leftParen {
            if ["start", "end", "range", "step"].contains(t.text.lowercased()), peek(2).kind == .rightParen {
                _ = advance()
                _ = advance()
                let close = advance()
                return .timeFunction(t.text.lowercased(), t.range.union(close.range))
            }
            guard let function = Functions.all[t.text] else {
                throw error("unknown function with name \"\(t.text)\"", t.range)
            }
            return try parseCall(function)
        }
        _ = advance()
        return .vectorSelector(try parseSelector(name: t.text, start: t.range))
    }

    mutating func parseCall(_ function: FunctionSignature) throws(ParseError) -> Expr {
        let name = advance()
        _ = try expect(.leftParen, "\"(\"")
        var args: [Expr] = []
        if current.kind != .rightParen {
            while true {
                args.append(try parseExpr(0))
                if current.kind == .comma {
                    _ = advance()
                    if current.kind == .rightParen { break }
                    continue
                }
                break
            }
        }
        let close = try expect(.rightParen, "\")\" or \",\"")
        return .call(Call(function: function, args: args, positionRange: name.range.union(close.range)))
    }

    mutating func parseAggregate(_ op: AggregateOp) throws(ParseError) -> Expr {
        let name = advance()
        var grouping: [String] = []
        var without = false
        var sawGrouping = false
        if atKeyword("by") || atKeyword("without") {
            without = advance().text.lowercased() == "without"
            grouping = try parseLabelList()
            sawGrouping = true
        }
        _ = try expect(.leftParen, "\"(\"")
        var args: [Expr] = []
        if current.kind != .rightParen {
            while true {
                args.append(try parseExpr(0))
                guard current.kind == .comma else { break }
                _ = advance()
                if current.kind == .rightParen { break }
            }
        }
        var close = try expect(.rightParen, "\")\"")
        if !sawGrouping, atKeyword("by") || atKeyword("without") {
            without = advance().text.lowercased() == "without"
            grouping = try parseLabelList()
            close = tokens[index - 1]
        }
        let expected = op.takesParameter ? 2 : 1
        guard args.count == expected else {
            throw error("wrong number of arguments for aggregate expression provided, expected \(expected), got \(args.count)", name.range.union(close.range))
        }
        return .aggregate(
            AggregateExpr(
                op: op, expr: args[args.count - 1], parameter: op.takesParameter ? args[0] : nil,
                grouping: grouping, without: without, positionRange: name.range.union(close.range)
            ))
    }

    /// `(a, b, "c")`: label names for grouping and matching.
    mutating func parseLabelList() throws(ParseError) -> [String] {
        _ = try expect(.leftParen, "\"(\"")
        var labels: [String] = []
        while current.kind != .rightParen {
            labels.append(try parseLabelName())
            if current.kind == .comma { _ = advance() } else { break }
        }
        _ = try expect(.rightParen, "\")\"")
        return labels
    }

    mutating func parseLabelName() throws(ParseError) -> String {
        let t = current
        switch t.kind {
        case .identifier, .string:
            _ = advance()
            return t.text
        case .op(let op) where [.and, .or, .unless, .atan2].contains(op):
            _ = advance()
            return t.text
        default:
            throw unexpected(t, expecting: "label")
        }
    }

    /// `name{matchers}`, `name` or `{matchers}`.
    mutating func parseSelector(name: String?, start: PositionRange) throws(ParseError) -> VectorSelector {
        var name = name
        var matchers: [Matcher] = []
        var end = start
        if current.kind == .leftBrace {
            _ = advance()
            while current.kind != .rightBrace {
                let labelToken = current
                let label = try parseLabelName()
                // A bare quoted string is a (UTF-8) metric name: {"my.metric", job="x"}.
                if labelToken.kind == .string, current.kind == .comma || current.kind == .rightBrace {
                    if let existing = name { throw error("metric name must not be set twice: \"\(existing)\" or \"\(label)\"", labelToken.range) }
                    name = label
                } else {
                    let opToken = advance()
                    let type: Matcher.MatchType
                    switch opToken.kind {
                    case .assign: type = .equal
                    case .op(.neq): type = .notEqual
                    case .regexMatch: type = .regexMatch
                    case .regexNoMatch: type = .regexNoMatch
                    default: throw unexpected(opToken, expecting: "label matching operator")
                    }
                    let value = current
                    guard value.kind == .string else { throw unexpected(value, expecting: "string") }
                    _ = advance()
                    do throws(MatcherError) {
                        matchers.append(try Matcher(type, label, value.text))
                    } catch {
                        throw self.error(error.description, value.range)
                    }
                }
                if current.kind == .comma {
                    _ = advance()
                } else if current.kind != .rightBrace {
                    throw unexpected(current, expecting: "\",\" or \"}\"")
                }
            }
            end = advance().range
        }
        if let name {
            if let other = matchers.first(where: { $0.name == "__name__" && $0.type == .equal }) {
                throw error("metric name must not be set twice: \"\(name)\" or \"\(other.value)\"", start.union(end))
            }
            // Matcher construction cannot fail for `=`.
            if let m = try? Matcher(.equal, "__name__", name) { matchers.insert(m, at: 0) }
        }
        return VectorSelector(name: name, matchers: matchers, positionRange: start.union(end))
    }

    // MARK: literals

    func numberValue(_ t: Token) throws(ParseError) -> Double {
        let text = t.text.lowercased()
        if text == "inf" { return .infinity }
        if text == "nan" { return .nan }
        if text.hasPrefix("0x"), let v = UInt64(text.dropFirst(2), radix: 16) { return Double(v) }
        guard let v = Double(t.text) else { throw error("bad number syntax: \"\(t.text)\"", t.range) }
        return v
    }
}
