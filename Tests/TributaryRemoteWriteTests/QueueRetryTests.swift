import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import Synchronization
import Testing
import TributaryModel
import TributaryTestSupport
import TributaryWire

@testable import TributaryRemoteWrite

/// The queue's answers to a receiver's status codes, against an in-process server that answers
/// from a script: 5xx is retried with backoff, 429 after `Retry-After`, other 4xx drop the
/// request (counted) and delivery goes on.
@Suite(.serialized) struct QueueRetryTests {
    final class Script: Sendable {
        let codes: Mutex<[Int]>
        let seen = Mutex<[(Date, Int)]>([])
        let contentTypes = Mutex<[String]>([])
        /// The series of every request, as received.
        let series = Mutex<[Labels]>([])
        /// Exemplars of every request, as received.
        let exemplars = Mutex<[Exemplar]>([])
        /// When set, 2xx answers carry remote write 2.0's `-Written` headers counting this many
        /// fewer samples and exemplars than the request held.
        let writtenShortBy = Mutex<Int?>(nil)
        init(_ codes: [Int]) { self.codes = Mutex(codes) }
    }

    /// A receiver that answers each request with the next scripted code (204 when the script
    /// is done), on a free port; returns the port and the task running it.
    static func server(_ script: Script) async throws -> (Int, ServiceGroup, Task<Void, any Error>) {
        let router = Router()
        router.post("/api/v1/write") { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 24)
            // Decoded as the Content-Type says, so a body of the other version counts as -1.
            let contentType = request.headers[.contentType] ?? ""
            script.contentTypes.withLock { $0.append(contentType) }
            let version = RemoteWriteVersion(contentType: contentType) ?? .v1
            let bytes = Array(body.readableBytesView)
            let batch = bytes.withUnsafeBytes { raw in try? WriteRequestDecoder().decode(raw, version: version) }
            let samples = batch?.sampleCount ?? -1
            if let request = batch?.makeWriteRequest() {
                script.series.withLock { $0 += request.timeseries.map(\.labels) }
                script.exemplars.withLock { $0 += request.timeseries.flatMap(\.exemplars) }
            }
            let code = script.codes.withLock { $0.isEmpty ? 204 : $0.removeFirst() }
            script.seen.withLock { $0.append((Date(), samples)) }
            var headers = HTTPFields()
            if let short = script.writtenShortBy.withLock({ $0 }), let batch {
                headers[HTTPField.Name("X-Prometheus-Remote-Write-Samples-Written")!] = String(max(0, batch.sampleCount - short))
                headers[HTTPField.Name("X-Prometheus-Remote-Write-Exemplars-Written")!] = String(max(0, batch.exemplars.count - short))
                headers[HTTPField.Name("X-Prometheus-Remote-Write-Histograms-Written")!] = "0"
            }
            if code == 429 { headers[.retryAfter] = "1" }
            return Response(status: .init(code: code), headers: headers)
        }
        let port = Mutex<Int?>(nil)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                port.withLock { $0 = channel.localAddress?.port }
            })
        let group = ServiceGroup(services: [app], logger: Logger(label: "test"))
        let task = Task { try await group.run() }
        for _ in 0..<200 where port.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(10)) }
        guard let p = port.withLock({ $0 }) else { throw TestFailure("server did not start") }
        return (p, group, task)
    }

    /// A queue storage with one queue to `port`, written by hand as a scrape of job node,
    /// instance host-1:9100 would write it: the series given plus `up` and the four scrape_*
    /// series.
    final class Harness: Sendable {
        let storage: QueueStorage
        let queue: RemoteWriteQueue
        let registry = PrometheusCollectorRegistry()
        let ids = Mutex<[String: UInt32]>([:])

        init(port: Int, dir: String, version: RemoteWriteVersion = .v1, relabel: [RelabelConfig] = [], sendExemplars: Bool = false) throws {
            storage = try QueueStorage(directory: dir, logger: Logger(label: "test"))
            var rw = RemoteWriteConfig(url: "http://127.0.0.1:\(port)/api/v1/write", name: "test")
            rw.queue.batchSendDeadline = 100
            rw.queue.minBackoff = 100
            rw.queue.maxBackoff = 400
            rw.version = version
            rw.writeRelabelConfigs = relabel
            rw.sendExemplars = sendExemplars
            queue = RemoteWriteQueue(config: rw, storage: storage, dataDirectory: dir, retention: 2 * 3600 * 1000, registry: registry, logger: Logger(label: "test"))
        }

        /// One scrape at `time`: each named sample, then the five synthetic series.
        func scrape(_ samples: [(String, Double)], at time: Int64, exemplar: Exemplar? = nil) throws {
            let all =
                samples + [
                    ("up", 1), ("scrape_duration_seconds", 0), ("scrape_samples_scraped", Double(samples.count)),
                    ("scrape_samples_post_metric_relabeling", Double(samples.count)), ("scrape_series_added", 0)
                ]
            var newSeries: [(UInt32, Labels)] = []
            let idList = ids.withLock { known in
                all.map { name, _ in
                    if let id = known[name] { return id }
                    let id = storage.allocate(1)
                    known[name] = id
                    newSeries.append((id, ["__name__": name, "instance": "host-1:9100", "job": "node"]))
                    return id
                }
            }
            // An exemplar goes with the first sample's series.
            try storage.append(
                series: newSeries, ids: idList, samples: all.map { Sample(timestamp: time, value: $0.1) }, exemplarIDs: exemplar == nil ? [] : [idList[0]],
                exemplars: exemplar.map { [$0] } ?? [])
        }

        func counter(_ name: String) -> Double {
            exposedValue(String(decoding: registry.emitToBuffer(), as: UTF8.self), name)
        }
    }

    @Test func retriesServerErrorsAndHonoursRetryAfter() async throws {
        let script = Script([503, 500, 429])
        let (port, group, task) = try await Self.server(script)
        let dir = NSTemporaryDirectory() + "tributary-queue-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let agent = try Harness(port: port, dir: dir)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try agent.scrape([("a", 1), ("b", 2)], at: now)
        let queue = Task { try await agent.queue.run() }
        for _ in 0..<100 where script.seen.withLock({ $0.count }) < 4 { try await Task.sleep(for: .milliseconds(50)) }
        queue.cancel()
        _ = try? await queue.value
        let seen = script.seen.withLock { $0 }
        #expect(seen.count == 4, "three failures, then delivered: \(seen.map(\.1))")
        #expect(seen.allSatisfy { $0.1 == 7 }, "the same 7 samples (2 scraped, 5 synthetic) each time")
        if seen.count == 4 {
            #expect(seen[3].0.timeIntervalSince(seen[2].0) >= 0.95, "Retry-After: 1 was honoured")
            #expect(seen[1].0.timeIntervalSince(seen[0].0) >= 0.09, "backoff after a 5xx")
        }
        #expect(agent.counter("prometheus_remote_storage_samples_retried_total") == 21)
        #expect(agent.counter("prometheus_remote_storage_samples_failed_total") == 0)
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    /// `protobuf_message: io.prometheus.write.v2.Request` sends 2.0: its Content-Type, and a
    /// body that decodes as 2.0 with every sample.
    @Test func remoteWrite20IsWhatIsSent() async throws {
        let script = Script([])
        let (port, group, task) = try await Self.server(script)
        let dir = NSTemporaryDirectory() + "tributary-queue-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let agent = try Harness(port: port, dir: dir, version: .v2)
        try agent.scrape([("a", 1), ("b", 2)], at: Int64(Date().timeIntervalSince1970 * 1000))
        let queue = Task { try await agent.queue.run() }
        for _ in 0..<100 where script.seen.withLock({ $0.count }) < 1 { try await Task.sleep(for: .milliseconds(50)) }
        queue.cancel()
        _ = try? await queue.value
        #expect(script.contentTypes.withLock { $0 } == ["application/x-protobuf;proto=io.prometheus.write.v2.Request"])
        #expect(script.seen.withLock { $0.map(\.1) } == [7])
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    /// send_exemplars: exemplars logged with the samples go out in series entries of their own;
    /// without it they stay home. With 2.0, a 2xx whose `-Written` headers count short (or are
    /// missing: a 1.0 receiver) is counted as not written, by kind.
    @Test(arguments: [(RemoteWriteVersion.v1, true), (.v1, false), (.v2, true)])
    func exemplarsAndWrittenCounts(_ c: (version: RemoteWriteVersion, sendExemplars: Bool)) async throws {
        let script = Script([])
        if c.version == .v2 { script.writtenShortBy.withLock { $0 = 1 } }
        let (port, group, task) = try await Self.server(script)
        let dir = NSTemporaryDirectory() + "tributary-queue-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let agent = try Harness(port: port, dir: dir, version: c.version, sendExemplars: c.sendExemplars)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let exemplar = Exemplar(labels: ["trace_id": "abc"], value: 1, timestamp: now)
        try agent.scrape([("a_total", 1)], at: now, exemplar: exemplar)
        let queue = Task { try await agent.queue.run() }
        let expected = c.sendExemplars ? 2 : 1
        for _ in 0..<100 where script.seen.withLock({ $0.count }) < expected { try await Task.sleep(for: .milliseconds(50)) }
        try await Task.sleep(for: .milliseconds(200))
        queue.cancel()
        _ = try? await queue.value
        #expect(script.exemplars.withLock { $0 } == (c.sendExemplars ? [exemplar] : []))
        #expect(script.seen.withLock { $0.map(\.1) } == (c.sendExemplars ? [6, 0] : [6]), "samples first, then the exemplar on its own")
        #expect(agent.counter("prometheus_remote_storage_exemplars_total") == (c.sendExemplars ? 1 : 0))
        let text = String(decoding: agent.registry.emitToBuffer(), as: UTF8.self)
        let shortSamples = exposedValue(text, "tributary_remote_storage_not_written_total", labels: "kind=\"samples\"")
        let shortExemplars = exposedValue(text, "tributary_remote_storage_not_written_total", labels: "kind=\"exemplars\"")
        #expect(shortSamples == (c.version == .v2 ? 1 : 0), "one sample short in the samples request")
        #expect(shortExemplars == (c.version == .v2 ? 1 : 0), "the exemplar request wrote none")
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    /// A 2.0 request answered 2xx with no `-Written` header at all came from a 1.0 receiver.
    @Test func missingWrittenHeadersCountAsNotWritten() async throws {
        let script = Script([])
        let (port, group, task) = try await Self.server(script)
        let dir = NSTemporaryDirectory() + "tributary-queue-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let agent = try Harness(port: port, dir: dir, version: .v2)
        try agent.scrape([("a", 1), ("b", 2)], at: Int64(Date().timeIntervalSince1970 * 1000))
        let queue = Task { try await agent.queue.run() }
        for _ in 0..<100 where script.seen.withLock({ $0.count }) < 1 { try await Task.sleep(for: .milliseconds(50)) }
        queue.cancel()
        _ = try? await queue.value
        #expect(agent.counter("tributary_remote_storage_not_written_total") == 7)
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    @Test func clientErrorsDropTheRequestAndDeliveryGoesOn() async throws {
        let script = Script([400])
        let (port, group, task) = try await Self.server(script)
        let dir = NSTemporaryDirectory() + "tributary-queue-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let agent = try Harness(port: port, dir: dir)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try agent.scrape([("a", 1)], at: now)
        let queue = Task { try await agent.queue.run() }
        for _ in 0..<100 where script.seen.withLock({ $0.count }) < 1 { try await Task.sleep(for: .milliseconds(50)) }
        try agent.scrape([("a", 2)], at: now + 15_000)
        for _ in 0..<100 where script.seen.withLock({ $0.count }) < 2 { try await Task.sleep(for: .milliseconds(50)) }
        queue.cancel()
        _ = try? await queue.value
        #expect(script.seen.withLock { $0.map(\.1) } == [6, 6], "the refused request is not sent again; the next one is")
        #expect(agent.counter("prometheus_remote_storage_samples_failed_total") == 6)
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    /// write_relabel_configs apply per queue, before sending: a dropped series is not sent
    /// (counted as dropped), a rewritten one goes with its new labels, in 1.0 and 2.0.
    @Test(arguments: [RemoteWriteVersion.v1, .v2])
    func writeRelabellingShapesWhatIsSent(version: RemoteWriteVersion) async throws {
        let script = Script([])
        let (port, group, task) = try await Self.server(script)
        let dir = NSTemporaryDirectory() + "tributary-queue-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var drop = try RelabelConfig(regex: "b|scrape_.*")
        drop.sourceLabels = ["__name__"]
        drop.action = .drop
        var site = try RelabelConfig(regex: "host-(.*):.*")
        site.sourceLabels = ["instance"]
        site.targetLabel = "site"
        site.replacement = "s$1"
        let agent = try Harness(port: port, dir: dir, version: version, relabel: [drop, site])
        try agent.scrape([("a", 1), ("b", 2)], at: Int64(Date().timeIntervalSince1970 * 1000))
        let queue = Task { try await agent.queue.run() }
        for _ in 0..<100 where script.seen.withLock({ $0.count }) < 1 { try await Task.sleep(for: .milliseconds(50)) }
        queue.cancel()
        _ = try? await queue.value
        let sent = script.series.withLock { $0 }
        #expect(
            sent == [
                ["__name__": "a", "instance": "host-1:9100", "job": "node", "site": "s1"],
                ["__name__": "up", "instance": "host-1:9100", "job": "node", "site": "s1"]
            ] as [Labels], "b and the scrape_* series dropped, the others given site")
        #expect(agent.counter("prometheus_remote_storage_samples_dropped_total") == 5)
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    /// A series whose labels left the storage (ended longer ago than the retention) while the
    /// queue still knew it: its samples are dropped and counted, not sent without labels.
    @Test func samplesOfSeriesGoneFromTheStorageAreDropped() throws {
        let dir = NSTemporaryDirectory() + "tributary-queue-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let agent = try Harness(port: 1, dir: dir)
        let queue = agent.queue, storage = agent.storage
        let id = storage.allocate(1)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try storage.append(series: [(id, ["__name__": "m", "job": "j"])], ids: [id], samples: [Sample(timestamp: now, value: 1)])
        var table = RemoteWriteQueue.SeriesTable()
        let encoder = WriteRequestEncoder()
        let batch = [(id, Sample(timestamp: now, value: 1))]
        let first = queue.encode(batch, shards: 1, table: &table, encoder: encoder)
        #expect(first.map(\.count) == [1] && first.first?.first?.samples == 1, "known: sent")
        storage.state.withLock { $0.series.remove(id) }
        let second = queue.encode(batch, shards: 1, table: &table, encoder: encoder)
        #expect(second.allSatisfy { $0.isEmpty }, "gone from the storage: nothing to send")
        #expect(agent.counter("prometheus_remote_storage_samples_dropped_total") == 1)
    }
}
