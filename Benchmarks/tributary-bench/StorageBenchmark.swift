import Foundation
import TributaryModel
import TributaryTestSupport
import TributaryWire

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Bytes per sample on disk and restart time (issue "TSDB part 2"): the same samples written
/// over remote write to our receiver, Debian's victoria-metrics and prometheus, in one run.
///
/// Two data sets of `hours` at 15 s: noisy realistic values for `series` node_exporter-shaped
/// series (counters with random increments, gauges on random walks, two decimals), and the
/// series of a real `prometheus-node-exporter` scraped back to back and replayed at 15 s
/// spacing. The samples start on a 2h boundary; one more sample `hours + 4h` later moves the
/// head on so ours and Prometheus's persist every block (their compaction planners are the
/// same). Bytes per sample: block bytes (chunks, index, tombstones, meta) over the samples the
/// blocks hold, for ours and Prometheus; for VictoriaMetrics, its data directory after a
/// forced flush and merge over all samples. Then each server is stopped and started again on
/// its data: the time until it answers a query for the first sample is the restart time.
enum StorageBenchmark {
    struct Row {
        var name: String
        var dataset: String
        var samples: Int
        var bytes: Int
        var restart: Double
        var rss: Double
    }

    static func run(series: Int, hours: Int, tributary: String) throws {
        let rounds = hours * 240
        let hour: Int64 = 3_600_000
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let start = (now - Int64(hours + 6) * hour) / (2 * hour) * (2 * hour)
        print("storage: \(hours)h at 15 s from \(start) (2h-aligned), one later sample at +\(hours + 4)h; block bytes per sample and restart time")
        let noisy = NoisySeries(count: series)
        print("  recording prometheus-node-exporter (\(rounds) scrapes back to back)...")
        let recorded = try RecordedNodeExporter.record(scrapes: rounds)
        print("  recorded \(recorded.labels.count) series")
        var rows: [Row] = []
        for (dataset, labels, value) in [
            ("noisy", noisy.labels, { (s: Int, r: Int) in noisy.value(s, r) }),
            ("node_exporter", recorded.labels, { (s: Int, r: Int) in recorded.values[r][s] })
        ] as [(String, [Labels], (Int, Int) -> Double)] {
            for target in IngestBenchmark.targets(tributary: tributary) {
                let server = try IngestBenchmark.Server(target, keepData: true)
                defer { server.stop() }
                var failures = 0
                for r in 0..<rounds {
                    let bodies = encode(labels, round: r, timestamp: start + Int64(r) * 15_000, value: value)
                    failures += IngestBenchmark.Server.send(bodies, port: server.port, connections: 4)
                }
                // One sample far later: the head spans more than 1.5 blocks, every block is cut.
                let later = encode([labels[0]], round: rounds, timestamp: start + Int64(hours + 4) * hour, value: { _, _ in 1 })
                failures += IngestBenchmark.Server.send(later, port: server.port, connections: 1)
                let samples = labels.count * rounds
                let stored = try settle(target.name, server, samples: samples, minutes: hours / 2)
                let rss = server.memoryKiB("VmRSS") / 1024
                server.pause()
                let restart = try server.restart(query: "count(\(labelsName(labels[0])))", at: Double(start) / 1000 + 60)
                print(
                    String(
                        format: "  %@ %@: %d samples in blocks, %d bytes, %.2f B/sample, restart %.2f s, RSS before restart %.0f MiB (%d failed requests)",
                        target.name, dataset, stored.samples, stored.bytes, Double(stored.bytes) / Double(max(stored.samples, 1)), restart, rss, failures))
                rows.append(Row(name: target.name, dataset: dataset, samples: stored.samples, bytes: stored.bytes, restart: restart, rss: rss))
            }
        }
        print("  dataset         server             B/sample  restart s")
        for r in rows {
            let name = r.dataset.padding(toLength: 16, withPad: " ", startingAt: 0) + r.name.padding(toLength: 17, withPad: " ", startingAt: 0)
            print("  " + name + String(format: "%8.2f  %8.2f", Double(r.bytes) / Double(max(r.samples, 1)), r.restart))
        }
        for dataset in ["noisy", "node_exporter"] {
            let ours = rows.first { $0.name == "tributary" && $0.dataset == dataset }
            for other in rows where other.name != "tributary" && other.dataset == dataset {
                guard let ours else { continue }
                let a = Double(ours.bytes) / Double(max(ours.samples, 1)), b = Double(other.bytes) / Double(max(other.samples, 1))
                print(String(format: "  %@: tributary vs %@ bytes per sample %.2fx", dataset, other.name, a / b))
            }
        }
    }

    static func labelsName(_ labels: Labels) -> String { labels.value(of: "__name__") ?? "up" }

    static func encode(_ labels: [Labels], round: Int, timestamp: Int64, value: (Int, Int) -> Double) -> [[UInt8]] {
        let encoder = WriteRequestEncoder()
        var bodies: [[UInt8]] = []
        var i = 0
        while i < labels.count {
            let end = min(i + 2000, labels.count)
            let request = WriteRequest(timeseries: (i..<end).map { TimeSeries(labels: labels[$0], samples: [Sample(timestamp: timestamp, value: value($0, round))]) })
            bodies.append(encoder.encode(request))
            i = end
        }
        return bodies
    }

    /// Waits until the blocks hold (nearly) every sample but the last one, then measures them.
    static func settle(_ name: String, _ server: IngestBenchmark.Server, samples: Int, minutes: Int) throws -> (samples: Int, bytes: Int) {
        let data = server.dir + "/data"
        if name == "victoria-metrics" {
            for path in ["/internal/force_flush", "/internal/force_merge"] { _ = try? Data(contentsOf: URL(string: "http://127.0.0.1:\(server.port)\(path)")!) }
            var last = -1
            for _ in 0..<120 {
                Thread.sleep(forTimeInterval: 2)
                let size = directorySize(data)
                if size == last { break }
                last = size
            }
            return (samples, directorySize(data, excluding: ["cache", "snapshots", "flock.lock"]))
        }
        // Ours and Prometheus: blocks appear within a minute or two of the head spanning 3h.
        var best = (samples: 0, bytes: 0)
        for _ in 0..<(90 + minutes * 30) {
            Thread.sleep(forTimeInterval: 2)
            best = blockTotals(data)
            if best.samples >= samples { break }
        }
        return best
    }

    /// Samples (from meta.json) and bytes of the block directories in `dir`.
    static func blockTotals(_ dir: String) -> (samples: Int, bytes: Int) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return (0, 0) }
        var samples = 0, bytes = 0
        for name in names where name.count == 26 {
            guard let meta = FileManager.default.contents(atPath: "\(dir)/\(name)/meta.json"),
                let json = try? JSONSerialization.jsonObject(with: meta) as? [String: Any],
                let stats = json["stats"] as? [String: Any], let n = stats["numSamples"] as? Int
            else { continue }
            samples += n
            bytes += directorySize("\(dir)/\(name)")
        }
        return (samples, bytes)
    }

    static func directorySize(_ path: String, excluding: [String] = []) -> Int {
        guard let files = FileManager.default.enumerator(atPath: path) else { return 0 }
        var total = 0
        while let name = files.nextObject() as? String {
            if excluding.contains(where: { name.hasPrefix($0) }) { continue }
            let attributes = try? FileManager.default.attributesOfItem(atPath: path + "/" + name)
            if attributes?[.type] as? FileAttributeType == .typeRegular { total += attributes?[.size] as? Int ?? 0 }
        }
        return total
    }
}

/// node_exporter-shaped series with values that look like a real machine's: CPU seconds and
/// byte counters rising by random amounts, load and memory on random walks, two decimals for
/// the fractional ones (deterministic: the same for every server).
struct NoisySeries {
    let labels: [Labels]
    let kinds: [Int]  // 0 counter (fraction), 1 byte counter, 2 gauge, 3 bytes gauge

    init(count: Int) {
        labels = NodeExporterLoad.series(count: count)
        kinds = labels.map { l in
            let name = l.value(of: "__name__") ?? ""
            if name.hasPrefix("node_cpu") { return 0 }
            if name.hasSuffix("bytes_total") { return 1 }
            if name.hasPrefix("node_load") { return 2 }
            return 3
        }
    }

    /// A cheap deterministic hash of (series, round) in [0, 1).
    func noise(_ s: Int, _ r: Int) -> Double {
        var x = UInt64(s) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(r) &* 0xBF58_476D_1CE4_E5B9
        x ^= x >> 31
        x = x &* 0x94D0_49BB_1331_11EB
        x ^= x >> 29
        return Double(x >> 11) / Double(1 << 53)
    }

    func value(_ s: Int, _ r: Int) -> Double {
        switch kinds[s] {
        case 0:  // seconds: about 15 × a busy fraction per round, rounded to 10 ms
            return ((Double(r) * 7.5 + noise(s, r) * 3) * 100).rounded() / 100
        case 1:  // bytes: a few kB a second with bursts
            return (Double(r) * 40_000 + (noise(s, r) * 25_000).rounded()).rounded()
        case 2:  // load average: 0.00–4.00
            return ((1.5 + 1.2 * sin(Double(r) / 40 + Double(s)) + noise(s, r) * 0.6) * 100).rounded() / 100
        default:  // memory or filesystem bytes: pages that come and go
            return Double(8_000_000_000 + Int64((sin(Double(r) / 90 + Double(s)) * 300_000 + noise(s, r) * 20_000).rounded()) * 4096)
        }
    }
}

/// A real `prometheus-node-exporter`'s series and values: scraped back to back, each scrape
/// one round (labels `job="node"`, `instance` added).
struct RecordedNodeExporter {
    let labels: [Labels]
    /// values[round][series]
    let values: [[Double]]

    static func record(scrapes: Int) throws -> RecordedNodeExporter {
        let port = freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus-node-exporter")
        process.arguments = ["--web.listen-address=127.0.0.1:\(port)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        var texts: [String] = []
        for _ in 0..<100 {
            if let d = try? Data(contentsOf: URL(string: "http://127.0.0.1:\(port)/metrics")!) {
                texts.append(String(decoding: d, as: UTF8.self))
                break
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        guard !texts.isEmpty else { throw BenchError("prometheus-node-exporter did not start") }
        while texts.count < scrapes {
            guard let d = try? Data(contentsOf: URL(string: "http://127.0.0.1:\(port)/metrics")!) else { continue }
            texts.append(String(decoding: d, as: UTF8.self))
        }
        // The series of the first scrape, in order; later scrapes fill in by key.
        var keys: [String] = []
        var index: [String: Int] = [:]
        var labels: [Labels] = []
        var values: [[Double]] = []
        for (r, text) in texts.enumerated() {
            var row = values.last ?? []
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { continue }
                let key = String(line[..<space])
                if r == 0, index[key] == nil, let l = parse(key) {
                    index[key] = keys.count
                    keys.append(key)
                    labels.append(l)
                    row.append(v)
                } else if let i = index[key] {
                    row[i] = v
                }
            }
            values.append(row)
        }
        return RecordedNodeExporter(labels: labels, values: values)
    }

    /// `name{a="1",b="2"}` → labels, plus job and instance.
    static func parse(_ key: String) -> Labels? {
        var b = LabelsBuilder()
        b.set("job", "node")
        b.set("instance", "recorded:9100")
        guard let brace = key.firstIndex(of: "{") else {
            b.set("__name__", key)
            return b.labels()
        }
        b.set("__name__", String(key[..<brace]))
        var rest = key[key.index(after: brace)...]
        while let eq = rest.firstIndex(of: "=") {
            let name = rest[..<eq].trimmingCharacters(in: CharacterSet(charactersIn: ", "))
            var i = rest.index(eq, offsetBy: 2, limitedBy: rest.endIndex) ?? rest.endIndex
            var value = ""
            while i < rest.endIndex, rest[i] != "\"" {
                if rest[i] == "\\", rest.index(after: i) < rest.endIndex {
                    i = rest.index(after: i)
                    value.append(rest[i] == "n" ? "\n" : rest[i])
                } else {
                    value.append(rest[i])
                }
                i = rest.index(after: i)
            }
            b.set(name, value)
            rest = i < rest.endIndex ? rest[rest.index(after: i)...] : ""
        }
        return b.labels()
    }
}
