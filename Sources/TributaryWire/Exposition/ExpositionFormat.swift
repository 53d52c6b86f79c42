/// The two text formats a scrape may answer with.
public enum ExpositionFormat: Sendable, Equatable {
    /// Prometheus text format 0.0.4 (`text/plain; version=0.0.4`).
    case prometheusText
    /// OpenMetrics 1.0 text (`application/openmetrics-text; version=1.0.0`).
    case openMetrics

    /// The `Accept` header a scraper sends: OpenMetrics preferred, text 0.0.4 accepted.
    public static let acceptHeader = "application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

    /// The format of a scrape response by its `Content-Type`; text 0.0.4 when absent or unknown,
    /// as Prometheus does.
    public init(contentType: String?) {
        self = (contentType ?? "").lowercased().hasPrefix("application/openmetrics-text") ? .openMetrics : .prometheusText
    }
}

/// The metric types of `# TYPE` lines.
public enum MetricFamilyType: String, Sendable {
    case counter, gauge, histogram, gaugehistogram, summary, info, stateset, unknown, untyped
}

/// A scrape body that does not parse: the line and column (1-based, in bytes) and why.
public struct ExpositionError: Error, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String

    public init(line: Int, column: Int, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "\(line):\(column): \(message)" }
}
