/// What the parser knows of a function: argument types and the result type.
public struct FunctionSignature: Sendable, Equatable {
    public let name: String
    public let argTypes: [ValueType]
    /// 0: exactly `argTypes.count` arguments; n > 0: up to n trailing arguments may be left
    /// out; -1: the last argument type repeats without limit.
    public let variadic: Int
    public let returnType: ValueType
    /// Experimental in Prometheus 3 (enabled here, as the conformance scripts assume).
    public let experimental: Bool

    init(_ name: String, _ args: [ValueType], _ ret: ValueType = .vector, variadic: Int = 0, experimental: Bool = false) {
        self.name = name
        self.argTypes = args
        self.returnType = ret
        self.variadic = variadic
        self.experimental = experimental
    }
}

/// Every PromQL function of Prometheus 3 by name.
public enum Functions {
    public static let all: [String: FunctionSignature] = {
        let v = ValueType.vector, m = ValueType.matrix, s = ValueType.scalar, str = ValueType.string
        var list: [FunctionSignature] = []
        for name in [
            "abs", "ceil", "exp", "floor", "ln", "log2", "log10", "sqrt", "sgn", "deg", "rad",
            "acos", "acosh", "asin", "asinh", "atan", "atanh", "cos", "cosh", "sin", "sinh", "tan", "tanh",
            "sort", "sort_desc", "timestamp", "absent",
            "histogram_avg", "histogram_count", "histogram_sum", "histogram_stddev", "histogram_stdvar"
        ] {
            list.append(.init(name, [v]))
        }
        for name in [
            "rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets",
            "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
            "last_over_time", "present_over_time", "stddev_over_time", "stdvar_over_time", "absent_over_time"
        ] {
            list.append(.init(name, [m]))
        }
        for name in [
            "mad_over_time", "ts_of_first_over_time", "ts_of_last_over_time", "ts_of_max_over_time",
            "ts_of_min_over_time", "first_over_time"
        ] {
            list.append(.init(name, [m], experimental: true))
        }
        for name in ["day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month", "year"] {
            list.append(.init(name, [v], variadic: 1))
        }
        list += [
            .init("clamp", [v, s, s]),
            .init("clamp_max", [v, s]),
            .init("clamp_min", [v, s]),
            .init("round", [v, s], variadic: 1),
            .init("scalar", [v], .scalar),
            .init("vector", [s]),
            .init("time", [], .scalar),
            .init("pi", [], .scalar),
            .init("label_replace", [v, str, str, str, str]),
            .init("label_join", [v, str, str, str], variadic: -1),
            .init("predict_linear", [m, s]),
            .init("quantile_over_time", [s, m]),
            .init("histogram_quantile", [s, v]),
            .init("histogram_fraction", [s, s, v]),
            .init("double_exponential_smoothing", [m, s, s], experimental: true),
            .init("holt_winters", [m, s, s]),
            .init("sort_by_label", [v, str], variadic: -1, experimental: true),
            .init("sort_by_label_desc", [v, str], variadic: -1, experimental: true),
            .init("info", [v, v], variadic: 1, experimental: true),
            .init("histogram_quantiles", [v, str, s], variadic: -1, experimental: true),
            .init("start_timestamp", [v], experimental: true),
            .init("min_of", [s, s], .scalar, experimental: true),
            .init("max_of", [s, s], .scalar, experimental: true)
        ]
        return Dictionary(uniqueKeysWithValues: list.map { ($0.name, $0) })
    }()
}
