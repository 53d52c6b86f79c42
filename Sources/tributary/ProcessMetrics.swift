import Foundation
import Prometheus
import ServiceLifecycle
import TributaryHTTPServer
import TributaryReceiver

#if canImport(Glibc)
    import Glibc
#endif

/// The process metrics every Prometheus client library exports (`process_cpu_seconds_total`,
/// `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_open_fds`,
/// `process_max_fds`, `process_start_time_seconds`), read from /proc every 5 seconds, and
/// `tributary_build_info{version, swift}` = 1.
struct ProcessMetricsService: Service {
    let cpu: Counter
    let resident: Gauge
    let virtual: Gauge
    let openFDs: Gauge
    let maxFDs: Gauge
    let start: Gauge

    init(registry: PrometheusCollectorRegistry) {
        cpu = registry.makeCounter(descriptor: Self.named("process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds."))
        resident = registry.makeGauge(descriptor: Self.named("process_resident_memory_bytes", help: "Resident memory size in bytes."))
        virtual = registry.makeGauge(descriptor: Self.named("process_virtual_memory_bytes", help: "Virtual memory size in bytes."))
        openFDs = registry.makeGauge(descriptor: Self.named("process_open_fds", help: "Number of open file descriptors."))
        maxFDs = registry.makeGauge(descriptor: Self.named("process_max_fds", help: "Maximum number of open file descriptors."))
        start = registry.makeGauge(descriptor: Self.named("process_start_time_seconds", help: "Start time of the process since unix epoch in seconds."))
        #if compiler(>=6.3)
            let swift = "6.3"
        #else
            let swift = "6"
        #endif
        registry.makeGauge(
            descriptor: Self.named("tributary_build_info", help: "A metric with a constant '1' labelled by version."),
            labels: [("version", TributaryBuild.version), ("swift", swift)]
        )
        .set(1.0)
        update()
    }

    /// A metric's descriptor from its whole name: swift-prometheus joins the non-empty parts
    /// (namespace, subsystem, name, unit) with underscores, so an empty unit leaves it as given.
    private static func named(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .seconds(5))
            update()
        }
    }

    /// CPU seconds already counted (the counter only goes up by the difference).
    private static let counted = LockedDouble()

    func update() {
        var usage = rusage()
        if getrusage(RUSAGE_SELF.rawValue, &usage) == 0 {
            let seconds =
                Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
            let delta = Self.counted.advance(to: seconds)
            if delta > 0 { cpu.increment(by: delta) }
        }
        // /proc/self/stat: vsize (field 23, bytes), rss (field 24, pages), starttime (22, ticks).
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // fields[0] is field 3 (state).
            if fields.count > 21 {
                if let v = Double(fields[20]) { virtual.set(v) }
                if let pages = Double(fields[21]) { resident.set(pages * Double(sysconf(Int32(_SC_PAGESIZE)))) }
                if let ticks = Double(fields[19]), let boot = Self.bootTime() { start.set(boot + ticks / Double(sysconf(Int32(_SC_CLK_TCK)))) }
            }
        }
        if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") { openFDs.set(Double(fds.count)) }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { maxFDs.set(Double(limit.rlim_cur)) }
    }

    /// `btime` of /proc/stat: when the machine booted, in seconds since the epoch.
    static func bootTime() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") { return Double(line.dropFirst(6)) }
        return nil
    }
}

/// A Double that only moves forward; returns by how much.
final class LockedDouble: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0.0

    func advance(to new: Double) -> Double {
        lock.lock()
        defer { lock.unlock() }
        let delta = new - value
        if delta > 0 { value = new }
        return max(delta, 0)
    }
}
