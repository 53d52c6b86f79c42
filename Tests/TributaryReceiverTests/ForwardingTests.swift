import Foundation
import Logging
import Prometheus
import Synchronization
import Testing
import TributaryModel
import TributaryRemoteWrite
import TributaryTestSupport
import TributaryWAL

@testable import TributaryReceiver

/// A site receiver forwards upstream (`remote_write`) what it stores: the HA pair it
/// deduplicates arrives upstream once, without the replica label, every stored sample of it.
@Suite(.serialized) struct ForwardingTests {
    @Test func siteReceiverForwardsTheDeduplicatedStream() async throws {
        let central = try await TestServer()
        defer { central.removeData() }
        var rw = RemoteWriteConfig(url: central.base + "/api/v1/write", name: "central")
        rw.queue.batchSendDeadline = 100
        rw.metadata.sendInterval = 200
        let site = try await TestServer {
            $0.dedupWindow = 1000
            $0.remoteWrites = [rw]
            $0.externalLabels = ["site": "site-1", "group": "not-this"]
        }
        defer { site.removeData() }
        // Aligned to the 1 s dedup windows, so replica b's samples (300 ms later) share a's windows.
        let start = (Int64(Date().timeIntervalSince1970 * 1000) - 60_000) / 1000 * 1000
        for replica in ["a", "b"] {
            let series = (0..<3).map { i in
                ReceiverTests.series(
                    ["__name__": "node_load1", "instance": "host-\(i)", "job": "node", "group": "lab-6", "replica": replica],
                    (0..<30).map { k in (start + Int64(k) * 1000 + (replica == "b" ? 300 : 0), Double(k)) })
            }
            #expect(try await site.write(ReceiverTests.body(series, metadata: [MetricMetadata(type: .gauge, metricFamilyName: "node_load1", help: "1m load average.")])).0 == 204)
        }
        let stored = try await site.metric("tributary_remote_write_samples_stored_total")
        #expect(stored == 90, "one sample per window and series")
        // Which replica fills the group: a, which wrote first; b's samples were its duplicates.
        #expect(try await site.metric("tributary_dedup_replica_samples_stored_total", labels: "group=\"lab-6\",ha_replica=\"a\"") == 90)
        #expect(try await site.metric("tributary_dedup_replica_samples_stored_total", labels: "group=\"lab-6\",ha_replica=\"b\"") == 0)
        var arrived = 0.0
        for _ in 0..<100 {
            arrived = try await central.metric("tributary_remote_write_samples_stored_total")
            if arrived >= stored { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(arrived == stored, "everything the site stored arrived upstream once")
        let upstream = try await central.queryScalar("count(count_over_time(node_load1%7Bgroup%3D%22lab-6%22%7D%5B5m%5D))")
        #expect(upstream == 3, "three series, no replica label")
        let named = try await central.queryScalar("count(node_load1%7Bsite%3D%22site-1%22%2Cgroup%3D%22lab-6%22%7D)")
        #expect(named == 3, "the site's external label added upstream; the series' own group kept")
        let atSite = try await site.queryScalar("count(node_load1%7Bsite%3D%22site-1%22%7D)")
        #expect(atSite == 0, "what the site stores has no external label")
        let perSeries = try await central.queryScalar("min(count_over_time(node_load1%5B5m%5D))")
        #expect(perSeries == 30)
        // The metadata the site was sent goes upstream too.
        var metadata: [String: Any] = [:]
        for _ in 0..<50 {
            let (_, json, _) = try await central.get("/api/v1/metadata")
            metadata = json["data"] as? [String: Any] ?? [:]
            if !metadata.isEmpty { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect((metadata["node_load1"] as? [[String: String]]) == [["type": "gauge", "help": "1m load average.", "unit": ""]], "\(metadata)")
        let m = try await site.metric("prometheus_remote_storage_samples_failed_total")
        #expect(m == 0)
        // A reload changes the external labels of what is forwarded from then on.
        var renamed = site.receiver.configuration
        renamed.externalLabels = ["site": "site-2"]
        #expect(site.receiver.reload(renamed).isEmpty, "external_labels need no restart")
        let later = (0..<3).map { i in
            ReceiverTests.series(["__name__": "node_load1", "instance": "host-\(i)", "job": "node", "group": "lab-6", "replica": "a"], [(start + 40_000, 1)])
        }
        #expect(try await site.write(ReceiverTests.body(later)).0 == 204)
        var moved = 0.0
        for _ in 0..<100 {
            moved = try await central.queryScalar("count(last_over_time(node_load1%7Bsite%3D%22site-2%22%7D%5B5m%5D))")
            if moved == 3 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(moved == 3, "forwarded under the new external label after the reload")
        await site.stop()
        await central.stop()
    }

    /// A `remote_write` entry to `server` that sends within 100 ms.
    static func entry(_ server: TestServer) -> RemoteWriteConfig {
        var rw = RemoteWriteConfig(url: server.base + "/api/v1/write", name: "central")
        rw.queue.batchSendDeadline = 100
        return rw
    }

    /// Writes one sample of a series called `name` to `site`.
    static func send(_ site: TestServer, _ name: String) async throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let body = ReceiverTests.body([ReceiverTests.series(["__name__": name, "job": "x"], [(now, 1)])])
        #expect(try await site.write(body).0 == 204)
    }

    /// How many series called `name` `server` holds, once it holds any (polled for `seconds`;
    /// 0 if none came).
    static func count(_ server: TestServer, _ name: String, seconds: Int = 10) async throws -> Double {
        for _ in 0..<(seconds * 10) {
            let n = try await server.queryScalar("count(\(name))")
            if n > 0 { return n }
            try await Task.sleep(for: .milliseconds(100))
        }
        return 0
    }

    /// A reloaded `remote_write` list moves forwarding to another upstream without a restart.
    @Test func reloadMovesForwardingUpstream() async throws {
        let first = try await TestServer()
        defer { first.removeData() }
        let second = try await TestServer()
        defer { second.removeData() }
        let site = try await TestServer { $0.remoteWrites = [Self.entry(first)] }
        defer { site.removeData() }
        func send(_ name: String) async throws { try await Self.send(site, name) }
        try await send("before_reload")
        #expect(try await Self.count(first, "before_reload") == 1)
        var moved = site.receiver.configuration
        moved.remoteWrites = [Self.entry(second)]
        #expect(site.receiver.reload(moved).isEmpty, "remote_write needs no restart")
        try await Task.sleep(for: .milliseconds(300))
        try await send("after_reload")
        #expect(try await Self.count(second, "after_reload") == 1, "the new upstream gets what is stored after the reload")
        #expect(try await first.queryScalar("count(after_reload)") == 0, "the removed upstream gets nothing more")
        await site.stop()
        await second.stop()
        await first.stop()
    }

    /// Forwarding starts by reload on a receiver started without `remote_write`, and stops when
    /// the last entry goes: what is stored while it is on arrives upstream, nothing from before
    /// or after.
    @Test func reloadTurnsForwardingOnAndOff() async throws {
        let upstream = try await TestServer()
        defer { upstream.removeData() }
        let site = try await TestServer()
        defer { site.removeData() }
        #expect(!site.receiver.forwarder.isActive)
        func send(_ name: String) async throws { try await Self.send(site, name) }
        // Waiting 10 s for what should arrive, 1 s for what should not.
        func count(_ name: String, waiting: Bool) async throws -> Double {
            try await Self.count(upstream, name, seconds: waiting ? 10 : 1)
        }
        try await send("while_off")
        var on = site.receiver.configuration
        on.remoteWrites = [Self.entry(upstream)]
        #expect(site.receiver.reload(on).isEmpty, "turning forwarding on needs no restart")
        try await Task.sleep(for: .milliseconds(300))
        #expect(site.receiver.forwarder.isActive)
        try await send("while_on")
        #expect(try await count("while_on", waiting: true) == 1, "stored after the reload: forwarded")
        #expect(try await count("while_off", waiting: false) == 0, "stored before forwarding was on: not forwarded")
        var off = on
        off.remoteWrites = []
        #expect(site.receiver.reload(off).isEmpty)
        try await Task.sleep(for: .milliseconds(300))
        #expect(!site.receiver.forwarder.isActive)
        try await send("after_off")
        #expect(try await count("after_off", waiting: false) == 0, "after the last entry went: not forwarded")
        await site.stop()
        await upstream.stop()
    }

    /// Series churn does not grow the forwarder: a series not forwarded for longer than the
    /// retention leaves the labels → id map, and the queue WAL's labels and checkpoint at the
    /// next truncation; one still forwarded stays. Fails if either only grows.
    @Test func idleForwardedSeriesExpire() throws {
        let dir = NSTemporaryDirectory() + "tributary-forward-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = ReceiverConfiguration()
        c.dataDirectory = dir
        c.forwardRetention = 60_000
        c.remoteWrites = [RemoteWriteConfig(url: "http://127.0.0.1:1/api/v1/write", name: "up")]
        let forwarder = try Forwarder(configuration: c, path: try ForwardingPath(directory: dir), registry: PrometheusCollectorRegistry(), logger: Logger(label: "test"))
        let gone: Labels = ["__name__": "gone", "job": "j"], kept: Labels = ["__name__": "kept", "job": "j"]
        try forwarder.forward([(gone, [Sample(timestamp: 1, value: 1)], []), (kept, [Sample(timestamp: 1, value: 1)], [])])
        let now = WallClock.system.now()
        #expect(forwarder.expireIdle(now: now + 30_000) == 0, "within the retention")
        // Later only `kept` is forwarded again.
        forwarder.ids.withLock { $0[kept]?.lastForwarded = now + 61_000 }
        #expect(forwarder.expireIdle(now: now + 90_000) == 1)
        #expect(forwarder.seriesCount == 1)
        let keep = try forwarder.storage.wal.cut()
        try forwarder.storage.truncate(before: WALPosition(segment: keep, offset: 0), now: now + 90_000, retention: 60_000)
        var inCheckpoint: [Labels] = []
        try Checkpoint.read(dir + "/forward/wal") { kind, payload in
            if kind == .series { _ = RecordCodec.decodeSeries(payload) { _, labels in inCheckpoint.append(Labels(labels)) } }
        }
        #expect(inCheckpoint == [kept])
        // A series that comes back gets a new id and is forwarded as new.
        try forwarder.forward([(gone, [Sample(timestamp: 2, value: 2)], [])])
        #expect(forwarder.seriesCount == 2)
    }
}
