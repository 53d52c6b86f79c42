import CMallocCounter
import Foundation
import TributaryModel
import TributaryTSDB
import TributaryWAL

/// Head and WAL figures (issue "TSDB part 1"): append throughput, resident memory per series,
/// WAL replay speed and a postings lookup.
enum TSDBBenchmark {
    static func run(series seriesCount: Int, memorySeries: Int) throws {
        print("tsdb: append \(seriesCount) series x 120 samples, commits of 2,000 samples")
        let labels = (0..<seriesCount).map(nodeLabels)
        try append(labels, wal: nil, byRef: false)
        try append(labels, wal: nil, byRef: true)
        let dir = NSTemporaryDirectory() + "tributary-bench-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try append(labels, wal: dir, byRef: false)
        try? FileManager.default.removeItem(atPath: dir)
        try append(labels, wal: dir, byRef: true)
        try replay(dir)
        try memory(seriesCount: memorySeries)
    }

    /// Labels shaped like node_exporter's for series `i`: 100 series per host, 8 groups.
    static func nodeLabels(_ i: Int) -> Labels {
        let modes = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"]
        let host = i / 100, k = i % 100
        var b = LabelsBuilder()
        b.set("instance", "lab-host-\(host):9100")
        b.set("job", "node")
        b.set("group", "lab-\(host % 8)")
        if k < 64 {
            b.set("__name__", "node_cpu_seconds_total")
            b.set("cpu", "\(k / 8)")
            b.set("mode", modes[k % 8])
        } else {
            b.set("__name__", "node_network_receive_bytes_total")
            b.set("device", "eth\(k - 64)")
        }
        return b.labels()
    }

    /// Appends 120 rounds. By labels, every sample is looked up by its labels (a receiver
    /// without per-series state); by reference, the first round looks up and later rounds use
    /// the references (as the HA dedup stage and Prometheus's scrape cache do).
    static func append(_ labels: [Labels], wal dir: String?, byRef: Bool) throws {
        let wal = try dir.map { try WAL(directory: $0 + "/wal", options: .init(fsync: .batch)) }
        let head = Head(wal: wal)
        var refs = [SeriesRef](repeating: 0, count: labels.count)
        let start = Date()
        var samples = 0
        for round in 0..<120 {
            let t = 1_700_000_000_000 + Int64(round) * 15_000
            var i = 0
            while i < labels.count {
                let end = min(i + 2000, labels.count)
                let result = try head.commit { batch in
                    for k in i..<end {
                        let sample = Sample(timestamp: t, value: Double(round * 7 + k))
                        if !byRef {
                            _ = batch.append(labels[k], sample)
                        } else if round == 0 {
                            refs[k] = labels[k].withView { batch.appendReturningRef($0, sample).0 }
                        } else {
                            _ = batch.append(ref: refs[k], sample)
                        }
                    }
                }
                samples += result.samplesStored
                i = end
            }
        }
        try wal?.sync()
        let seconds = Date().timeIntervalSince(start)
        let what = (dir == nil ? "head only, " : "head + WAL, ") + (byRef ? "by ref   " : "by labels")
        print(String(format: "  append, %@ %6.2fM samples/s (%d samples in %.2f s)   target >= 5M", what, Double(samples) / seconds / 1e6, samples, seconds))
    }

    static func replay(_ dir: String) throws {
        let wal = try WAL(directory: dir + "/wal")
        let head = Head(wal: wal)
        let start = Date()
        let stats = try head.replayWAL()
        let seconds = Date().timeIntervalSince(start)
        print(
            String(
                format: "  WAL replay:              %6.2fM samples/s (%d samples, %d series, %.1f MB in %.2f s)   target >= 3M",
                Double(stats.samples) / seconds / 1e6, stats.samples, stats.series, Double(stats.wal.bytes) / 1e6, seconds))
    }

    static func memory(seriesCount: Int) throws {
        tributary_malloc_trim()
        let before = residentBytes()
        let head = Head()
        var i = 0
        while i < seriesCount {
            let end = min(i + 2000, seriesCount)
            let chunk = (i..<end).map(nodeLabels)
            _ = try head.commit { batch in
                for l in chunk { _ = batch.append(l, Sample(timestamp: 1_700_000_000_000, value: 1)) }
            }
            i = end
        }
        tributary_malloc_trim()
        let afterCreate = residentBytes()
        for round in 1..<30 {
            i = 0
            while i < seriesCount {
                let end = min(i + 2000, seriesCount)
                let chunk = (i..<end).map(nodeLabels)
                _ = try head.commit { batch in
                    for l in chunk { _ = batch.append(l, Sample(timestamp: 1_700_000_000_000 + Int64(round) * 15_000, value: Double(round))) }
                }
                i = end
            }
        }
        tributary_malloc_trim()
        let after30 = residentBytes()
        print(
            String(
                format: "  resident memory per series at %d series: %4.0f B with 1 sample, %4.0f B with 30 samples (head estimate %d B)   target <= 1024 B",
                seriesCount, Double(afterCreate - before) / Double(seriesCount), Double(after30 - before) / Double(seriesCount),
                head.memoryBytes / seriesCount))

        let matchers = [try Matcher(.equal, "job", "node"), try Matcher(.regexMatch, "group", "lab-1|lab-2")]
        var found = 0
        let start = Date()
        let rounds = 20
        for _ in 0..<rounds { found = try head.postings.select(matchers).count }
        let perLookup = Date().timeIntervalSince(start) / Double(rounds)
        print(
            String(
                format: "  postings {job=\"node\", group=~\"lab-1|lab-2\"} over %d series: %.2f ms per lookup (%d series match)",
                seriesCount, perLookup * 1000, found))
        withExtendedLifetime(head) {}
    }

    static func residentBytes() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = statm.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }
}
