/// A duration written as an expression (Prometheus 3's experimental duration expressions):
/// `[26m+4m]`, `offset (2 * 1m)`, `[step()]`, `min_of(range(), 8s)`. Numbers are seconds.
public indirect enum DurationExpr: Sendable, Equatable {
    /// Milliseconds.
    case literal(Int64)
    case step
    case range
    case negate(DurationExpr)
    case binary(BinaryOp, DurationExpr, DurationExpr)
    case minOf(DurationExpr, DurationExpr)
    case maxOf(DurationExpr, DurationExpr)

    /// True when the value is known without a query (no `step()` or `range()`).
    public var isConstant: Bool {
        switch self {
        case .literal: true
        case .step, .range: false
        case .negate(let e): e.isConstant
        case .binary(_, let a, let b), .minOf(let a, let b), .maxOf(let a, let b): a.isConstant && b.isConstant
        }
    }

    /// Milliseconds, given the query's step and range (ms); nil when undefined (division by
    /// zero, overflow, a non-finite result).
    public func evaluate(step: Int64 = 0, range: Int64 = 0) -> Int64? {
        guard let seconds = value(step: Double(step) / 1000, range: Double(range) / 1000), seconds.isFinite,
            abs(seconds) < 9.2e15
        else { return nil }
        return Int64((seconds * 1000).rounded())
    }

    /// The value in seconds.
    func value(step: Double, range: Double) -> Double? {
        switch self {
        case .literal(let ms): return Double(ms) / 1000
        case .step: return step
        case .range: return range
        case .negate(let e): return e.value(step: step, range: range).map { -$0 }
        case .minOf(let a, let b):
            guard let x = a.value(step: step, range: range), let y = b.value(step: step, range: range) else { return nil }
            return Swift.min(x, y)
        case .maxOf(let a, let b):
            guard let x = a.value(step: step, range: range), let y = b.value(step: step, range: range) else { return nil }
            return Swift.max(x, y)
        case .binary(let op, let a, let b):
            guard let x = a.value(step: step, range: range), let y = b.value(step: step, range: range) else { return nil }
            switch op {
            case .add: return x + y
            case .sub: return x - y
            case .mul: return x * y
            case .div: return y == 0 ? nil : x / y
            case .mod: return y == 0 ? nil : x.truncatingRemainder(dividingBy: y)
            case .pow: return Foundation_pow(x, y)
            default: return nil
            }
        }
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@inline(__always) func Foundation_pow(_ x: Double, _ y: Double) -> Double { pow(x, y) }
