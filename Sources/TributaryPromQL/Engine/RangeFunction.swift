/// The functions that reduce each series' samples in a window to one value, resolved once per
/// call instead of comparing names at every step and series.
enum RangeFunction: String {
    case rate, irate, increase, delta, idelta, deriv, changes, resets
    case predictLinear = "predict_linear"
    case avgOverTime = "avg_over_time"
    case minOverTime = "min_over_time"
    case maxOverTime = "max_over_time"
    case sumOverTime = "sum_over_time"
    case countOverTime = "count_over_time"
    case lastOverTime = "last_over_time"
    case firstOverTime = "first_over_time"
    case presentOverTime = "present_over_time"
    case stddevOverTime = "stddev_over_time"
    case stdvarOverTime = "stdvar_over_time"
    case quantileOverTime = "quantile_over_time"
    case madOverTime = "mad_over_time"
    case tsOfFirstOverTime = "ts_of_first_over_time"
    case tsOfLastOverTime = "ts_of_last_over_time"
    case tsOfMinOverTime = "ts_of_min_over_time"
    case tsOfMaxOverTime = "ts_of_max_over_time"
    /// Also `holt_winters`, its name before Prometheus 3.
    case doubleExponentialSmoothing = "double_exponential_smoothing"

    init?(name: String) {
        self.init(rawValue: name == "holt_winters" ? "double_exponential_smoothing" : name)
    }

    /// The position of the range-vector argument (`quantile_over_time` takes the quantile first).
    var matrixArgument: Int { self == .quantileOverTime ? 1 : 0 }

    /// Whether the result keeps the input's metric name (the value is one of the samples).
    var keepsName: Bool { self == .lastOverTime || self == .firstOverTime }
}
