import TributaryModel

/// A parsed PromQL expression.
public indirect enum Expr: Sendable {
    case number(Double, PositionRange)
    case string(String, PositionRange)
    case vectorSelector(VectorSelector)
    case matrixSelector(MatrixSelector)
    case subquery(Subquery)
    case paren(Expr, PositionRange)
    case unary(negate: Bool, Expr, PositionRange)
    case binary(BinaryExpr)
    case aggregate(AggregateExpr)
    case call(Call)
    /// `start()`, `end()`, `range()`, `step()` in expressions (experimental).
    case timeFunction(String, PositionRange)

    /// Where the expression is in the query.
    public var positionRange: PositionRange {
        switch self {
        case .number(_, let r), .string(_, let r), .paren(_, let r), .unary(_, _, let r), .timeFunction(_, let r): r
        case .vectorSelector(let v): v.positionRange
        case .matrixSelector(let m): m.positionRange
        case .subquery(let s): s.positionRange
        case .binary(let b): b.lhs.positionRange.union(b.rhs.positionRange)
        case .aggregate(let a): a.positionRange
        case .call(let c): c.positionRange
        }
    }

    /// The type the expression evaluates to.
    public var type: ValueType {
        switch self {
        case .number, .timeFunction: .scalar
        case .string: .string
        case .vectorSelector: .vector
        case .matrixSelector, .subquery: .matrix
        case .paren(let e, _), .unary(_, let e, _): e.type
        case .binary(let b): b.lhs.type == .scalar && b.rhs.type == .scalar ? .scalar : .vector
        case .aggregate: .vector
        case .call(let c): c.function.returnType
        }
    }
}

/// `@ <time>`, `@ start()` or `@ end()`.
public enum AtModifier: Sendable, Equatable {
    /// Milliseconds since the epoch.
    case timestamp(Int64)
    case start
    case end
}

/// `metric{l="v"}`, with its offset and `@`.
public struct VectorSelector: Sendable {
    public var name: String?
    public var matchers: [Matcher]
    /// Milliseconds; positive looks back.
    public var offset: Int64 = 0
    /// An offset written as an expression that needs the query's step or range.
    public var offsetExpr: DurationExpr?
    public var at: AtModifier?
    /// `metric smoothed`: interpolate at the evaluation time (experimental).
    public var smoothed = false
    public var positionRange: PositionRange
}

/// `selector[range]`, optionally `anchored` or `smoothed` (experimental extended ranges).
public struct MatrixSelector: Sendable {
    public enum Mode: String, Sendable { case standard, anchored, smoothed }
    public var selector: VectorSelector
    /// Milliseconds (when `rangeExpr` is constant, its value).
    public var range: Int64
    /// A range written as an expression that needs the query's step or range.
    public var rangeExpr: DurationExpr?
    public var mode: Mode = .standard
    public var positionRange: PositionRange
}

/// `expr[range:step]`.
public struct Subquery: Sendable {
    public var expr: Expr
    public var range: Int64
    public var rangeExpr: DurationExpr?
    /// 0 means the default resolution.
    public var step: Int64
    public var stepExpr: DurationExpr?
    public var offset: Int64 = 0
    public var offsetExpr: DurationExpr?
    public var at: AtModifier?
    public var positionRange: PositionRange
}

/// Vector matching of a binary operation.
public struct VectorMatching: Sendable, Equatable {
    public enum Cardinality: Sendable, Equatable { case oneToOne, manyToOne, oneToMany, manyToMany }
    public var cardinality: Cardinality = .oneToOne
    /// `on(...)` when true, `ignoring(...)` when false.
    public var on = false
    public var labels: [String] = []
    /// The labels of `group_left(...)`/`group_right(...)`.
    public var include: [String] = []
}

public struct BinaryExpr: Sendable {
    public var op: BinaryOp
    public var lhs: Expr
    public var rhs: Expr
    public var returnBool = false
    /// Present when both sides are vectors.
    public var matching: VectorMatching?
    /// `fill(v)` / `fill_left(v)` / `fill_right(v)`: values for unmatched sides (experimental).
    public var fillLeft: Double?
    public var fillRight: Double?
}

public enum AggregateOp: String, Sendable, CaseIterable {
    case sum, avg, count, min, max, group, stddev, stdvar, topk, bottomk, quantile
    case countValues = "count_values"
    case limitk
    case limitRatio = "limit_ratio"

    /// Whether the aggregation takes a parameter before the expression.
    var takesParameter: Bool {
        switch self {
        case .topk, .bottomk, .quantile, .countValues, .limitk, .limitRatio: true
        default: false
        }
    }
}

public struct AggregateExpr: Sendable {
    public var op: AggregateOp
    public var expr: Expr
    public var parameter: Expr?
    public var grouping: [String]
    /// `without(...)` when true, `by(...)` (or nothing) when false.
    public var without: Bool
    public var positionRange: PositionRange
}

public struct Call: Sendable {
    public var function: FunctionSignature
    public var args: [Expr]
    public var positionRange: PositionRange
}
