import Foundation
import TributaryModel

extension Evaluator {
    mutating func binary(_ b: BinaryExpr, at t: Int64) throws(EvaluationError) -> StepValue {
        let lhs = try eval(b.lhs, at: t)
        let rhs = try eval(b.rhs, at: t)
        switch (lhs, rhs) {
        case (.scalar(let x), .scalar(let y)):
            guard let v = Self.apply(b.op, x, y) else { throw EvaluationError(.execution, "operator \(b.op.rawValue) not allowed on scalars") }
            if b.op.isComparison { return .scalar(v == 0 ? 0 : 1) }
            return .scalar(v)
        case (.vector(let v), .scalar(let y)):
            return .vector(vectorScalar(b, v, y, scalarOnLeft: false))
        case (.scalar(let x), .vector(let v)):
            return .vector(vectorScalar(b, v, x, scalarOnLeft: true))
        case (.vector(let l), .vector(let r)):
            if b.op.isSetOperator { return .vector(setOperation(b, l, r)) }
            return .vector(try vectorVector(b, l, r))
        default:
            throw EvaluationError(.execution, "binary operation on unsupported operand types")
        }
    }

    /// The result of `x op y` for arithmetic; for comparisons 1 (true) or 0 (false).
    static func apply(_ op: BinaryOp, _ x: Double, _ y: Double) -> Double? {
        switch op {
        case .add: x + y
        case .sub: x - y
        case .mul: x * y
        case .div: x / y
        case .mod: fmod(x, y)
        case .pow: pow(x, y)
        case .atan2: atan2(x, y)
        case .eql: x == y ? 1 : 0
        case .neq: x != y ? 1 : 0
        case .gtr: x > y ? 1 : 0
        case .lss: x < y ? 1 : 0
        case .gte: x >= y ? 1 : 0
        case .lte: x <= y ? 1 : 0
        default: nil
        }
    }

    func vectorScalar(_ b: BinaryExpr, _ vector: [VectorSample], _ scalar: Double, scalarOnLeft: Bool) -> [VectorSample] {
        var out: [VectorSample] = []
        out.reserveCapacity(vector.count)
        for s in vector {
            let (x, y) = scalarOnLeft ? (scalar, s.value) : (s.value, scalar)
            guard let r = Self.apply(b.op, x, y) else { continue }
            var sample = s
            if b.op.isComparison {
                if b.returnBool {
                    sample.value = r
                    sample.dropName = true
                } else {
                    guard r == 1 else { continue }
                    // A filter keeps the vector's value.
                    sample.value = s.value
                }
            } else {
                sample.value = r
                sample.dropName = true
            }
            out.append(sample)
        }
        return out
    }

    /// The labels two sides are matched on.
    static func signature(_ labels: Labels, _ m: VectorMatching?) -> Labels {
        let (names, keep) = signatureNames(m)
        return keep ? labels.keeping(names) : labels.dropping(names)
    }

    /// The names that make a signature: the labels kept (`on`) or dropped (the rest).
    static func signatureNames(_ m: VectorMatching?) -> (LabelNames, keep: Bool) {
        guard let m else { return (LabelNames(["__name__"]), false) }
        if m.on { return (LabelNames(m.labels), true) }
        return (LabelNames(m.labels + ["__name__"]), false)
    }

    func vectorVector(_ b: BinaryExpr, _ lhs: [VectorSample], _ rhs: [VectorSample]) throws(EvaluationError) -> [VectorSample] {
        let matching = b.matching ?? VectorMatching()
        let card = matching.cardinality
        // With group_right the roles swap: the "one" side is the left.
        let (many, one) = card == .oneToMany ? (rhs, lhs) : (lhs, rhs)
        var oneBySignature: [Labels: VectorSample] = [:]
        for s in one {
            let sig = Self.signature(s.labels, b.matching)
            if oneBySignature[sig] != nil {
                let side = card == .oneToMany ? "left" : "right"
                throw EvaluationError(.execution, "found duplicate series for the match group \(sig) on the \(side) hand-side of the operation: [\(s.labels)];many-to-many matching not allowed: matching labels must be unique on one side")
            }
            oneBySignature[sig] = s
        }
        var matchedSignatures = Set<Labels>()
        var resultLabels = Set<Labels>()
        var out: [VectorSample] = []
        for s in many {
            let sig = Self.signature(s.labels, b.matching)
            guard let other = oneBySignature[sig] else { continue }
            if card == .oneToOne {
                guard matchedSignatures.insert(sig).inserted else {
                    throw EvaluationError(.execution, "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)")
                }
            }
            let (l, r) = card == .oneToMany ? (other, s) : (s, other)
            guard let value = Self.apply(b.op, l.value, r.value) else { continue }
            var result: VectorSample
            if b.op.isComparison && !b.returnBool {
                guard value == 1 else { continue }
                result = VectorSample(labels: resultMetric(s.labels, other.labels, b), value: l.value)
                result.dropName = s.dropName
            } else {
                result = VectorSample(labels: resultMetric(s.labels, other.labels, b), value: value)
                result.dropName = true
            }
            if card != .oneToOne {
                let key = result.dropName ? result.labels.dropping("__name__") : result.labels
                guard resultLabels.insert(key).inserted else {
                    throw EvaluationError(.execution, "multiple matches for labels: grouping labels must ensure unique matches")
                }
            }
            out.append(result)
        }
        return out
    }

    /// Labels of a binary operation's result: the "many" side's, reduced to the `on` labels
    /// for one-to-one `on`, without the `ignoring` labels for one-to-one `ignoring`, plus the
    /// `group_left/right` labels from the "one" side.
    func resultMetric(_ many: Labels, _ one: Labels, _ b: BinaryExpr) -> Labels {
        guard let m = b.matching else { return many }
        var labels = many
        if m.cardinality == .oneToOne {
            if m.on {
                labels = labels.keeping(LabelNames(m.labels))
            } else {
                labels = labels.dropping(LabelNames(m.labels))
            }
        }
        if !m.include.isEmpty {
            var builder = LabelsBuilder(labels)
            for name in m.include {
                builder.set(name, one.value(of: name) ?? "")
            }
            labels = builder.labels()
        }
        return labels
    }

    func setOperation(_ b: BinaryExpr, _ lhs: [VectorSample], _ rhs: [VectorSample]) -> [VectorSample] {
        let rightSignatures = Set(rhs.map { Self.signature($0.labels, b.matching) })
        switch b.op {
        case .and:
            return lhs.filter { rightSignatures.contains(Self.signature($0.labels, b.matching)) }
        case .unless:
            return lhs.filter { !rightSignatures.contains(Self.signature($0.labels, b.matching)) }
        default:  // or
            let leftSignatures = Set(lhs.map { Self.signature($0.labels, b.matching) })
            return lhs + rhs.filter { !leftSignatures.contains(Self.signature($0.labels, b.matching)) }
        }
    }
}
