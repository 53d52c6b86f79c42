import Foundation
import TributaryModel

extension Evaluator {
    /// Functions applied value by value to an instant vector.
    mutating func instantFunction(_ c: Call, at t: Int64) throws(EvaluationError) -> [VectorSample] {
        let name = c.function.name
        var input: [VectorSample]
        if c.args.isEmpty {
            // Date functions default to vector(time()).
            input = [VectorSample(labels: .empty, value: Double(t) / 1000)]
        } else {
            guard case .vector(let v) = try eval(c.args[0], at: t) else { return [] }
            input = v
        }
        var scalars: [Double] = []
        for arg in c.args.dropFirst() {
            if case .scalar(let v) = try eval(arg, at: t) { scalars.append(v) }
        }
        guard let f = try Self.valueFunction(name, scalars) else { return [] }
        var out: [VectorSample] = []
        out.reserveCapacity(input.count)
        for s in input {
            guard let v = f(s.value) else { continue }
            var sample = s
            sample.value = v
            sample.dropName = true
            out.append(sample)
        }
        return out
    }

    /// The function `name` applies to each value, given its scalar arguments; nil when the
    /// result is empty whatever the input (`clamp` with min > max, histogram functions).
    static func valueFunction(_ name: String, _ scalars: [Double]) throws(EvaluationError) -> ((Double) -> Double?)? {
        let f: (Double) -> Double?
        switch name {
        case "abs": f = { abs($0) }
        case "ceil": f = { ceil($0) }
        case "floor": f = { floor($0) }
        case "exp": f = { exp($0) }
        case "ln": f = { log($0) }
        case "log2": f = { log2($0) }
        case "log10": f = { log10($0) }
        case "sqrt": f = { sqrt($0) }
        case "sgn": f = { $0 > 0 ? 1 : ($0 < 0 ? -1 : $0) }
        case "deg": f = { $0 * 180 / Double.pi }
        case "rad": f = { $0 * Double.pi / 180 }
        case "acos": f = { acos($0) }
        case "acosh": f = { acosh($0) }
        case "asin": f = { asin($0) }
        case "asinh": f = { asinh($0) }
        case "atan": f = { atan($0) }
        case "atanh": f = { atanh($0) }
        case "cos": f = { cos($0) }
        case "cosh": f = { cosh($0) }
        case "sin": f = { sin($0) }
        case "sinh": f = { sinh($0) }
        case "tan": f = { tan($0) }
        case "tanh": f = { tanh($0) }
        case "clamp":
            let lo = scalars[0], hi = scalars[1]
            if lo > hi { return nil }
            f = { max(lo, min(hi, $0)) }
        case "clamp_min": let lo = scalars[0]; f = { max(lo, $0) }
        case "clamp_max": let hi = scalars[0]; f = { min(hi, $0) }
        case "round":
            let inverse = 1 / (scalars.first ?? 1)
            f = { floor($0 * inverse + 0.5) / inverse }
        case "day_of_month": f = { Self.date($0) { $0.day } }
        case "day_of_week": f = { Self.date($0) { ($0.weekday ?? 1) - 1 } }
        case "day_of_year": f = { Self.date($0) { Self.ordinalDay($0) } }
        case "days_in_month": f = { Self.date($0) { Self.daysInMonth($0) } }
        case "hour": f = { Self.date($0) { $0.hour } }
        case "minute": f = { Self.date($0) { $0.minute } }
        case "month": f = { Self.date($0) { $0.month } }
        case "year": f = { Self.date($0) { $0.year } }
        case "histogram_count", "histogram_sum", "histogram_avg", "histogram_stddev", "histogram_stdvar", "start_timestamp":
            // Native histograms are not stored; float samples have no histogram to read.
            return nil
        default:
            throw EvaluationError(.execution, "function \(name) is not implemented")
        }
        return f
    }

    static let utc: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0) ?? c.timeZone
        return c
    }()

    static func date(_ seconds: Double, _ field: (DateComponents) -> Int?) -> Double? {
        guard seconds.isFinite else { return seconds.isNaN ? .nan : nil }
        let components = utc.dateComponents([.year, .month, .day, .hour, .minute, .weekday], from: Date(timeIntervalSince1970: seconds.rounded(.down)))
        return field(components).map(Double.init)
    }

    static func ordinalDay(_ c: DateComponents) -> Int? {
        guard let date = utc.date(from: c) else { return nil }
        return utc.ordinality(of: .day, in: .year, for: date)
    }

    static func daysInMonth(_ c: DateComponents) -> Int? {
        guard let date = utc.date(from: DateComponents(year: c.year, month: c.month, day: 1)) else { return nil }
        return utc.range(of: .day, in: .month, for: date)?.count
    }
}
