import TributaryModel

/// Prometheus's `checkAST`: argument counts and types of functions and aggregations, operand
/// types of operators, with Prometheus's messages.
struct TypeCheck {
    let query: String

    func error(_ message: String, _ range: PositionRange) -> ParseError {
        ParseError(message, at: range, in: query)
    }

    func check(_ expr: Expr) throws(ParseError) {
        switch expr {
        case .number, .string, .timeFunction:
            return
        case .vectorSelector(let v):
            try checkSelector(v)
        case .matrixSelector(let m):
            try checkSelector(m.selector)
        case .subquery(let s):
            try check(s.expr)
        case .paren(let e, _):
            try check(e)
        case .unary(_, let e, let range):
            try check(e)
            guard e.type == .scalar || e.type == .vector else {
                throw error("unary expression only allowed on expressions of type scalar or instant vector, got \(e.type.rawValue)", range)
            }
        case .aggregate(let a):
            try check(a.expr)
            guard a.expr.type == .vector else {
                throw error("expected type instant vector in aggregation expression, got \(a.expr.type.rawValue)", a.expr.positionRange)
            }
            if let p = a.parameter {
                try check(p)
                let want: ValueType = a.op == .countValues ? .string : .scalar
                guard p.type == want else {
                    throw error("expected type \(want.rawValue) in aggregation parameter, got \(p.type.rawValue)", p.positionRange)
                }
            }
        case .call(let c):
            try checkCall(c)
        case .binary(let b):
            try check(b.lhs)
            try check(b.rhs)
            try checkBinary(b)
        }
    }

    func checkSelector(_ v: VectorSelector) throws(ParseError) {
        if v.matchers.isEmpty || v.matchers.allSatisfy(\.matchesEmpty) {
            throw error("vector selector must contain at least one non-empty matcher", v.positionRange)
        }
    }

    func checkCall(_ c: Call) throws(ParseError) {
        let f = c.function
        let n = c.args.count
        let minimum = f.variadic > 0 ? f.argTypes.count - f.variadic : (f.variadic < 0 ? f.argTypes.count - 1 : f.argTypes.count)
        let maximum = f.variadic < 0 ? Int.max : f.argTypes.count
        if n < max(minimum, 0) || n > maximum {
            let expected = f.variadic == 0 ? "\(f.argTypes.count)" : (f.variadic < 0 ? "at least \(minimum)" : "\(minimum) to \(maximum)")
            throw error("expected \(expected) argument(s) in call to \"\(f.name)\", got \(n)", c.positionRange)
        }
        for (i, arg) in c.args.enumerated() {
            // info()'s second argument selects data labels and may match everything.
            if f.name == "info", i == 1, case .vectorSelector = arg {
            } else {
                try check(arg)
            }
            let want = f.argTypes[min(i, f.argTypes.count - 1)]
            var got = arg.type
            // A number literal where a string is expected stays a type error; a scalar
            // expression is fine where a scalar is expected.
            if want == .scalar, got == .scalar { continue }
            if case .paren(let inner, _) = arg, inner.type == want { got = want }
            guard got == want else {
                throw error("expected type \(want.rawValue) in call to function \"\(f.name)\", got \(arg.type.rawValue)", arg.positionRange)
            }
        }
    }

    func checkBinary(_ b: BinaryExpr) throws(ParseError) {
        let l = b.lhs.type, r = b.rhs.type
        let range = b.lhs.positionRange.union(b.rhs.positionRange)
        guard (l == .scalar || l == .vector) && (r == .scalar || r == .vector) else {
            throw error("binary expression must contain only scalar and instant vector types", range)
        }
        if b.returnBool && !b.op.isComparison {
            throw error("bool modifier can only be used on comparison operators", range)
        }
        if b.op.isComparison && !b.returnBool && l == .scalar && r == .scalar {
            throw error("comparisons between scalars must use BOOL modifier", range)
        }
        if b.op.isSetOperator && (l == .scalar || r == .scalar) {
            throw error("set operator \"\(b.op.rawValue)\" not allowed in binary scalar expression", range)
        }
        if let m = b.matching, (l != .vector || r != .vector), m.on || !m.labels.isEmpty || m.cardinality != .oneToOne && !b.op.isSetOperator {
            throw error("vector matching only allowed between instant vectors", range)
        }
        if let m = b.matching, b.op.isSetOperator, m.cardinality == .manyToOne || m.cardinality == .oneToMany {
            throw error("no grouping allowed for \"\(b.op.rawValue)\" operation", range)
        }
        if let m = b.matching, m.on, Set(m.labels).intersection(m.include).first != nil {
            let label = Set(m.labels).intersection(m.include).first ?? ""
            throw error("label \"\(label)\" must not occur in ON and GROUP clause at once", range)
        }
    }
}
