import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import Synchronization
import TributaryConfig
import TributaryHTTPServer
import TributaryModel
import TributaryReceiver
import TributaryTSDB
import TributaryWAL
import UnixSignals

/// `tributary receive`: the central receiver.
struct Receive: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the central receiver (remote-write endpoint, HA dedup, TSDB, PromQL API)."
    )

    @Option(name: [.customLong("config"), .customLong("config.file")], help: "Path to receiver.yml (see configs/receiver.yml); flags override it.")
    var config: String?
    @Option(name: [.customLong("listen"), .customLong("web.listen-address")], help: "Listen address, HOST:PORT (default 0.0.0.0:9201).")
    var listen: String?
    @Option(name: [.customLong("data-dir"), .customLong("storage.tsdb.path")], help: "TSDB directory (default ./data/receiver).")
    var dataDir: String?
    @OptionGroup var log: LogOptions
    @OptionGroup var web: WebOptions
    @Option(name: .customLong("dedup-window"), help: "HA dedup window a series uses until it has shown its scrape interval, e.g. 15s (default 15s).") var dedupWindow: String?
    @Option(name: .customLong("wal-fsync"), help: "always or batch (default batch).") var walFsync: String?
    @Option(name: .customLong("storage.tsdb.retention.time"), help: "Delete blocks older than this behind the newest, e.g. 15d (0: keep all; default 15d).")
    var retentionTime: String?
    @Option(name: .customLong("storage.tsdb.retention.size"), help: "Delete the oldest blocks while blocks and WAL exceed this, e.g. 50GB (default: no limit).")
    var retentionSize: String?
    @Flag(name: .customLong("web.enable-admin-api"), help: "Serve the TSDB admin API (snapshot, delete_series, clean_tombstones under /api/v1/admin/tsdb/), as Prometheus's flag.")
    var adminAPI = false
    @Flag(name: .customLong("storage.tsdb.no-lockfile"), help: "Do not take <data-dir>/lock (for filesystems without flock), as Prometheus's flag.")
    var noLockfile = false
    @Option(name: .customLong("storage.tsdb.min-block-duration"), help: "Block range the head is written in (default 2h).")
    var blockDuration: String?

    /// receiver.yml (or the defaults) with the flags applied over it (read at start and at
    /// each reload).
    func settings() throws(CommandError) -> ReceiverConfiguration {
        var settings = ReceiverConfiguration()
        if let config {
            do {
                settings = try ReceiverConfigFile.load(path: config)
            } catch {
                throw CommandError(error.description)
            }
        }
        if let listen {
            guard let address = ListenAddress(listen) else { throw CommandError("--listen \(listen): expected HOST:PORT") }
            settings.host = address.host
            settings.port = address.port
        }
        if let dataDir { settings.dataDirectory = dataDir }
        try web.apply(to: &settings.connectionLimits)
        if let dedupWindow {
            guard let ms = PrometheusDuration.parse(dedupWindow) else { throw CommandError("--dedup-window \(dedupWindow): expected a duration like 15s") }
            settings.dedupWindow = ms
        }
        if adminAPI { settings.adminAPI = true }
        if noLockfile { settings.lockDataDirectory = false }
        if let retentionTime {
            guard let ms = PrometheusDuration.parse(retentionTime), ms >= 0 else {
                throw CommandError("--storage.tsdb.retention.time \(retentionTime): expected a duration like 15d")
            }
            settings.storage.retentionTime = ms
        }
        if let retentionSize {
            guard let bytes = ByteSize.parse(retentionSize) else { throw CommandError("--storage.tsdb.retention.size \(retentionSize): expected a size like 50GB") }
            settings.storage.retentionSize = bytes
        }
        if let blockDuration {
            guard let ms = PrometheusDuration.parse(blockDuration), ms >= 60_000, 86_400_000 % ms == 0 else {
                throw CommandError("--storage.tsdb.min-block-duration \(blockDuration): expected a duration of at least 1m that divides a day")
            }
            settings.storage.blockDuration = ms
        }
        if let walFsync {
            guard let policy = WAL.FsyncPolicy(rawValue: walFsync) else { throw CommandError("--wal-fsync \(walFsync): expected always or batch") }
            settings.walFsync = policy
        }
        return settings
    }

    /// The flags in effect (Prometheus's names where it has them), for `/api/v1/status/flags`.
    func flagValues(_ settings: ReceiverConfiguration) -> [String: String] {
        let storage = settings.storage
        return WebOptions.flagValues(settings.connectionLimits, log: log).merging([
            "config.file": config ?? "", "web.listen-address": "\(settings.host):\(settings.port)", "storage.tsdb.path": settings.dataDirectory,
            "storage.tsdb.retention.time": PrometheusDuration.format(storage.retentionTime),
            "storage.tsdb.retention.size": storage.retentionSize > 0 ? "\(storage.retentionSize)B" : "0",
            "storage.tsdb.min-block-duration": PrometheusDuration.format(storage.blockDuration), "web.enable-admin-api": "\(settings.adminAPI)",
            "storage.tsdb.no-lockfile": "\(!settings.lockDataDirectory)",
            "dedup-window": PrometheusDuration.format(settings.dedupWindow), "wal-fsync": settings.walFsync.rawValue
        ]) { _, own in own }
    }

    /// The configuration file's text ("" without one, or when it cannot be read again).
    func configText() -> String {
        guard let config else { return "" }
        return (try? String(contentsOfFile: config, encoding: .utf8)) ?? ""
    }

    func run() async throws {
        Allocator.configure()
        let settings = try settings()
        log.bootstrap()
        // One registry for our metrics and anything the libraries record through swift-metrics.
        let metrics = ReceiverMetrics()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics.registry))
        let logger = Logger(label: "tributary.receiver")
        let receiver: Receiver
        do {
            receiver = try Receiver(configuration: settings, metrics: metrics, logger: logger)
        } catch {
            throw CommandError("cannot open \(settings.dataDirectory): \(error)")
        }
        receiver.runtime.withLock { $0.flags = flagValues(settings) }
        receiver.configLoaded(yaml: configText())
        let host = settings.host, scheme = settings.tls == nil ? "http" : "https"
        // Throws ServerError, whose text names the unusable TLS file.
        let command = self
        let reloader = Reloader(path: config, registry: metrics.registry, prefix: "tributary", logger: logger) {
            do {
                let settings = try command.settings()
                receiver.reload(settings)
                receiver.runtime.withLock { $0.flags = command.flagValues(settings) }
                receiver.configLoaded(yaml: command.configText())
            } catch {
                receiver.reloadFailed()
                throw error
            }
        }
        let app = try ReceiverServer.application(receiver, logger: logger, reload: { try await reloader.reload() }) { port in
            logger.info("listening", metadata: ["address": "\(scheme)://\(host):\(port)", "allocator": "\(Allocator.name)"])
        }
        // Services stop in reverse order: HTTP first, then forwarding, then the WAL is flushed.
        let group = ServiceGroup(
            services: [
                ProcessMetricsService(registry: metrics.registry), WALSyncService(receiver: receiver, logger: logger),
                TSDBMaintenanceService(receiver: receiver, logger: logger), HeapTrimService(receiver: receiver)
            ]
                + receiver.forwardingServices + [ReloadOnHangup(reloader: reloader), app],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await group.run()
    }
}
