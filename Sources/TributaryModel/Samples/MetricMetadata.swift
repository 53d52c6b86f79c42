/// What a sender says about a metric family: type, help and unit.
public struct MetricMetadata: Sendable, Equatable, Hashable {
    /// The metric types of Prometheus and OpenMetrics, numbered as in remote write 1.0.
    public enum MetricType: Int32, Sendable, CaseIterable {
        case unknown = 0, counter, gauge, histogram, gaugeHistogram, summary, info, stateSet

        /// The name the HTTP API uses (`counter`, `gaugehistogram`, …).
        public var name: String {
            switch self {
            case .unknown: "unknown"
            case .counter: "counter"
            case .gauge: "gauge"
            case .histogram: "histogram"
            case .gaugeHistogram: "gaugehistogram"
            case .summary: "summary"
            case .info: "info"
            case .stateSet: "stateset"
            }
        }
    }

    public var type: MetricType
    public var metricFamilyName: String
    public var help: String
    public var unit: String

    public init(type: MetricType, metricFamilyName: String, help: String = "", unit: String = "") {
        self.type = type
        self.metricFamilyName = metricFamilyName
        self.help = help
        self.unit = unit
    }
}
