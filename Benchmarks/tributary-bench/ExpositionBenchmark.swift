import Foundation
import TributaryModel
import TributaryWire

/// The agent's per-sample work outside the network, on one core: parsing a node_exporter-like
/// text body (the one scripts/bench-targets.py serves: 500 `node_cpu_seconds_total` lines) and
/// a page recorded from a real node_exporter (scripts/bench-pages), and encoding remote-write requests of 2,000 one-sample series. Prints ns per sample.
enum ExpositionBenchmark {
    static func body(series: Int) -> [UInt8] {
        let modes = ["idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice"]
        var text = "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n# TYPE node_cpu_seconds_total counter\n"
        for i in 0..<series { text += "node_cpu_seconds_total{cpu=\"\(i / 8)\",mode=\"\(modes[i % 8])\"} \(i * 10 + 3).3\n" }
        return Array(text.utf8)
    }

    static func run(seconds: Double) {
        let bytes = body(series: 500)
        var samples = 0
        let parse = measure(seconds) {
            var parser = ExpositionParser(bytes, format: .prometheusText)
            while let entry = try? parser.next() {
                if case .sample = entry { samples += 1 }
            }
            return 500
        }
        print(String(format: "parse text 0.0.4: %.0f ns per sample (%.2fM samples/s)", parse, 1e3 / parse))
        // As a scrape loop parses once its cache holds every series: label sets are skipped.
        let parseKnown = measure(seconds) {
            var parser = ExpositionParser(bytes, format: .prometheusText)
            while let entry = try? parser.next(known: { $0.count > 0 }) {
                if case .sample = entry { samples += 1 }
            }
            return 500
        }
        print(String(format: "parse text 0.0.4, every series known: %.0f ns per sample (%.2fM samples/s)", parseKnown, 1e3 / parseKnown))
        // The same page as OpenMetrics (what a target answers our Accept header with when it
        // can): the family named without `_total`, `# EOF` at the end.
        let openMetrics =
            Array(
                String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "# HELP node_cpu_seconds_total", with: "# HELP node_cpu_seconds")
                    .replacingOccurrences(of: "# TYPE node_cpu_seconds_total", with: "# TYPE node_cpu_seconds").utf8) + Array("# EOF\n".utf8)
        var openMetricsCount = 0
        var check = ExpositionParser(openMetrics, format: .openMetrics)
        while let entry = try? check.next() { if case .sample = entry { openMetricsCount += 1 } }
        let parseOpenMetrics = measure(seconds) {
            var parser = ExpositionParser(openMetrics, format: .openMetrics)
            while let entry = try? parser.next(known: { $0.count > 0 }) {
                if case .sample = entry { samples += 1 }
            }
            return 500
        }
        print(String(format: "parse OpenMetrics 1.0 (%d of 500 samples parsed), every series known: %.0f ns per sample", openMetricsCount, parseOpenMetrics))
        // A page recorded from a real node_exporter: ~280 families, most of a sample or two, so
        // the HELP and TYPE lines and the family rules weigh far more than in the page above.
        let pagePath = "scripts/bench-pages/node-exporter.prom"
        if let page = FileManager.default.contents(atPath: pagePath).map(Array.init) {
            var count = 0
            var parser = ExpositionParser(page, format: .prometheusText)
            while let entry = try? parser.next() { if case .sample = entry { count += 1 } }
            let known = measure(seconds) {
                var parser = ExpositionParser(page, format: .prometheusText)
                while let entry = try? parser.next(known: { $0.count > 0 }) {
                    if case .sample = entry { samples += 1 }
                }
                return count
            }
            print(String(format: "parse %@ (%d samples), every series known: %.0f ns per sample", pagePath, count, known))
        } else {
            print("no \(pagePath) here (run from the repository): the recorded page is not measured")
        }

        let items: [(Labels, Sample)] = (0..<2000).map { i in
            (
                ["__name__": "node_cpu_seconds_total", "cpu": "\(i / 8)", "mode": "m\(i % 8)", "instance": "127.0.0.1:\(20000 + i / 500)", "job": "bench", "bench": "t"],
                Sample(timestamp: 1_700_000_000_000 + Int64(i), value: Double(i))
            )
        }
        let encoder = WriteRequestEncoder()
        var bytesOut = 0
        // The agent packs a series' labels once, when it first sees the series...
        var packed: [[UInt8]] = []
        let pack = measure(seconds) {
            packed = items.map { encoder.packLabels($0.0) }
            bytesOut += packed.count
            return items.count
        }
        print(String(format: "pack the labels of a new series (libprotobuf-c): %.0f ns per series", pack))
        // ...and every sample's request copies them.
        let encode = measure(seconds) {
            bytesOut += encoder.encodeSingles(count: items.count) { i in packed[i].withUnsafeBytes { ($0, items[i].1) } }.count
            return items.count
        }
        print(String(format: "encode 1.0 singles (packed labels + libprotobuf-c sample + snappy): %.0f ns per sample (%.2fM samples/s)", encode, 1e3 / encode))
        if samples == 0 || bytesOut == 0 { print("nothing measured") }
    }

    /// Runs `body` (which returns how many samples it handled) for about `seconds`; ns per sample.
    static func measure(_ seconds: Double, _ body: () -> Int) -> Double {
        for _ in 0..<20 { _ = body() }
        var n = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var now = start
        while Double(now - start) < seconds * 1e9 {
            for _ in 0..<20 { n += body() }
            now = DispatchTime.now().uptimeNanoseconds
        }
        return Double(now - start) / Double(n)
    }
}
