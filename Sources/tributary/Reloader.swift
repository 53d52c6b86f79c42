import Logging
import Prometheus
import ServiceLifecycle
import TributaryModel
import UnixSignals

/// Re-reads the configuration file and applies it, one reload at a time, for SIGHUP and
/// `POST /-/reload` alike. Records the outcome under Prometheus's names
/// (`…_config_last_reload_successful`, `…_config_last_reload_success_timestamp_seconds`).
/// A process started without a file has nothing to reload: it says so and keeps running.
actor Reloader {
    let path: String?
    let apply: @Sendable () async throws -> Void
    let logger: Logger
    let successful: Gauge
    let successTime: Gauge

    /// `apply` reads the file at `path` (nil: started without one) and applies it; it throws
    /// when the file has errors.
    init(path: String?, registry: PrometheusCollectorRegistry, prefix: String, logger: Logger, apply: @escaping @Sendable () async throws -> Void) {
        self.path = path
        self.apply = apply
        self.logger = logger
        successful = registry.makeGauge(descriptor: .init(metricName: "\(prefix)_config_last_reload_successful", unitName: "", helpText: "Whether the last configuration reload succeeded."))
        successTime = registry.makeGauge(descriptor: .init(metricName: "\(prefix)_config_last_reload_success_timestamp_seconds", unitName: "", helpText: "When the configuration was last loaded."))
        successful.set(1.0)
        successTime.set(Self.now())
    }

    /// Reloads; a failure is logged (with the file's line and column) and rethrown, and the
    /// running configuration stays.
    func reload() async throws {
        guard let path else {
            logger.info("reload: started without --config, nothing to reload; keeping the running settings")
            return
        }
        do {
            try await apply()
            successful.set(1.0)
            successTime.set(Self.now())
        } catch {
            successful.set(0.0)
            logger.error("reload failed; keeping the running configuration", metadata: ["file": "\(path)", "error": "\(error)"])
            throw error
        }
    }

    static func now() -> Double { Double(WallClock.system.now()) / 1000 }
}

/// Reloads on SIGHUP (which would otherwise end the process) until graceful shutdown.
struct ReloadOnHangup: Service {
    let reloader: Reloader

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                try? await reloader.reload()
            }
        }
    }
}
