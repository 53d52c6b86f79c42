import TributaryModel

/// Durations and duration expressions in ranges, subquery steps and offsets.
extension Parser {
    /// A full duration expression, as inside `[...]`: `5m`, `26m+4m`, `2m*(10+5)`, `step()`.
    mutating func parseDurationExpr(_ minPrecedence: Int = 0) throws(ParseError) -> (DurationExpr, PositionRange) {
        var (lhs, range) = try parseDurationAtom(allowBinary: true)
        while case .op(let op) = current.kind, [.add, .sub, .mul, .div, .mod, .pow].contains(op), op.precedence >= minPrecedence {
            _ = advance()
            let (rhs, rhsRange) = try parseDurationExpr(op.isRightAssociative ? op.precedence : op.precedence + 1)
            lhs = .binary(op, lhs, rhs)
            range = range.union(rhsRange)
        }
        return (lhs, range)
    }

    /// One term: a number of seconds, a duration, a signed term, `( expr )`, `step()`,
    /// `range()`, `min_of(a, b)`, `max_of(a, b)`. After `offset` only a term is read, so
    /// `x offset 5m * 2` stays `(x offset 5m) * 2`.
    mutating func parseDurationAtom(allowBinary: Bool) throws(ParseError) -> (DurationExpr, PositionRange) {
        let t = current
        switch t.kind {
        case .duration:
            _ = advance()
            guard let ms = PrometheusDuration.parse(t.text) else { throw error("bad duration syntax: \"\(t.text)\"", t.range) }
            return (.literal(ms), t.range)
        case .number:
            _ = advance()
            let seconds = try numberValue(t)
            guard seconds.isFinite, abs(seconds) < 9.2e15 else { throw error("bad duration syntax: \"\(t.text)\"", t.range) }
            return (.literal(Int64((seconds * 1000).rounded())), t.range)
        case .op(let op) where op == .add || op == .sub:
            _ = advance()
            // As in expressions, a sign binds looser than ^: -2^2 is -(2^2).
            let (inner, range) = allowBinary ? try parseDurationExpr(BinaryOp.pow.precedence) : try parseDurationAtom(allowBinary: false)
            return (op == .sub ? .negate(inner) : inner, t.range.union(range))
        case .leftParen:
            _ = advance()
            let (inner, _) = try parseDurationExpr(0)
            let close = try expect(.rightParen, "\")\"")
            return (inner, t.range.union(close.range))
        case .identifier:
            let word = t.text.lowercased()
            guard peek().kind == .leftParen else { throw unexpected(t, expecting: "duration") }
            if word == "step" || word == "range" {
                _ = advance()
                _ = advance()
                let close = try expect(.rightParen, "\")\"")
                return (word == "step" ? .step : .range, t.range.union(close.range))
            }
            if word == "min_of" || word == "max_of" {
                _ = advance()
                _ = advance()
                let (a, _) = try parseDurationExpr()
                _ = try expect(.comma, "\",\"")
                let (b, _) = try parseDurationExpr()
                let close = try expect(.rightParen, "\")\"")
                return (word == "min_of" ? .minOf(a, b) : .maxOf(a, b), t.range.union(close.range))
            }
            throw unexpected(t, expecting: "duration")
        default:
            throw unexpected(t, expecting: "duration")
        }
    }

    /// A constant duration's milliseconds, or the expression when it needs the query.
    func resolve(_ e: DurationExpr, _ range: PositionRange) throws(ParseError) -> (Int64, DurationExpr?) {
        if e.isConstant {
            guard let ms = e.evaluate() else { throw error("invalid duration expression", range) }
            return (ms, nil)
        }
        return (0, e)
    }
}
