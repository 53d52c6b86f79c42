import ArgumentParser
import TributaryHTTPServer
import TributaryModel

/// Prometheus's `--web.max-connections` and `--web.read-timeout`, and our head deadline
/// against slowloris clients, for both commands' HTTP servers.
struct WebOptions: ParsableArguments {
    @Option(name: .customLong("web.max-connections"), help: "Most open HTTP connections; more are closed when accepted (default 4096 for the receiver, 512 for the agent).")
    var maxConnections: Int?
    @Option(name: .customLong("web.read-timeout"), help: "Longest a request may take to arrive after its first byte, and an idle connection may stay open (default 5m).")
    var readTimeout: String?
    @Option(name: .customLong("web.read-header-timeout"), help: "Longest a request head may take to arrive after its first byte or the connection's start (default 10s).")
    var readHeaderTimeout: String?

    /// The web and log flags in effect, Prometheus's names, for either command's `status/flags`.
    static func flagValues(_ limits: ConnectionLimits, log: LogOptions) -> [String: String] {
        [
            "web.max-connections": "\(limits.maxConnections)", "web.read-timeout": PrometheusDuration.format(limits.readTimeout),
            "web.read-header-timeout": PrometheusDuration.format(limits.readHeaderTimeout), "log.level": log.level, "log.format": log.format
        ]
    }

    func apply(to limits: inout ConnectionLimits) throws(CommandError) {
        if let maxConnections {
            guard maxConnections > 0 else { throw CommandError("--web.max-connections \(maxConnections): expected a positive number") }
            limits.maxConnections = maxConnections
        }
        if let readTimeout {
            guard let ms = PrometheusDuration.parse(readTimeout), ms > 0 else { throw CommandError("--web.read-timeout \(readTimeout): expected a duration like 5m") }
            limits.readTimeout = ms
        }
        if let readHeaderTimeout {
            guard let ms = PrometheusDuration.parse(readHeaderTimeout), ms > 0 else {
                throw CommandError("--web.read-header-timeout \(readHeaderTimeout): expected a duration like 10s")
            }
            limits.readHeaderTimeout = ms
        }
    }
}
