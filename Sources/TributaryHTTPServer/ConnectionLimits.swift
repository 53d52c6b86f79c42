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

/// Connections of one server: open now, refused over the cap, closed by a timeout (for
/// `/metrics` and tests).
public final class ConnectionCounts: Sendable {
    public let open = Atomic<Int>(0)
    public let refused = Atomic<Int>(0)
    public let timedOut = Atomic<Int>(0)

    public init() {}
}
