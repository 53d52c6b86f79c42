import CoreMetrics
import Synchronization

/// What one HTTP server allows a client connection (Prometheus's `--web.max-connections` and
/// `--web.read-timeout`, plus a deadline for request heads against slowloris clients).
public struct ConnectionLimits: Sendable, Equatable {
    /// Open connections at most; one more is closed as soon as it is accepted.
    public var maxConnections = 512
    /// From a request's first byte (or a new connection's start) until its head is complete,
    /// in milliseconds.
    public var readHeaderTimeout: Int64 = 10_000
    /// From a request's first byte until its body is complete, and the longest an idle
    /// kept-alive connection stays open, in milliseconds.
    public var readTimeout: Int64 = 300_000

    public init(maxConnections: Int = 512) {
        self.maxConnections = maxConnections
    }
}

/// Connections of one server: open now, refused over the cap, closed by a timeout. Read by
/// tests; exported through swift-metrics (the process's `/metrics`) as
/// `tributary_http_connections_open`, `tributary_http_connections_refused_total` and
/// `tributary_http_connections_timed_out_total`.
public final class ConnectionCounts: Sendable {
    public let open = Atomic<Int>(0)
    public let refused = Atomic<Int>(0)
    public let timedOut = Atomic<Int>(0)
    let openGauge = Gauge(label: "tributary_http_connections_open")
    let refusedCounter = Counter(label: "tributary_http_connections_refused_total")
    let timedOutCounter = Counter(label: "tributary_http_connections_timed_out_total")

    public init() {}

    func opened() -> Int {
        let n = open.add(1, ordering: .relaxed).newValue
        openGauge.record(n)
        return n
    }

    func closed() {
        openGauge.record(open.subtract(1, ordering: .relaxed).newValue)
    }

    func refusedOne() {
        refused.add(1, ordering: .relaxed)
        refusedCounter.increment()
    }

    func timedOutOne() {
        timedOut.add(1, ordering: .relaxed)
        timedOutCounter.increment()
    }
}
