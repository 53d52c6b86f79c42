/// PromQL's binary operators.
public enum BinaryOp: String, Sendable, CaseIterable {
    case add = "+", sub = "-", mul = "*", div = "/", mod = "%", pow = "^", atan2
    case eql = "==", neq = "!=", gtr = ">", lss = "<", gte = ">=", lte = "<="
    case and, or, unless
    /// Native-histogram bucket trimming (experimental): `h </ x` keeps observations below x,
    /// `h >/ x` above.
    case trimUpper = "</", trimLower = ">/"

    /// Binding strength: higher binds tighter (Prometheus's grammar).
    var precedence: Int {
        switch self {
        case .or: 1
        case .and, .unless: 2
        case .eql, .neq, .gtr, .lss, .gte, .lte: 3
        case .add, .sub: 4
        case .mul, .div, .mod, .atan2, .trimUpper, .trimLower: 5
        case .pow: 6
        }
    }

    var isRightAssociative: Bool { self == .pow }
    public var isComparison: Bool { precedence == 3 }
    public var isSetOperator: Bool { self == .and || self == .or || self == .unless }
}

/// The value types of PromQL expressions.
public enum ValueType: String, Sendable {
    case scalar, vector = "instant vector", matrix = "range vector", string
}
