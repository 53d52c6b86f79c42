import Foundation
import TributaryModel
import TributaryWire

/// The agent's per-sample work outside the network, on one core: parsing a node_exporter-like
/// text body (the one scripts/bench-targets.py serves: 500 `node_cpu_seconds_total` lines)
/// and encoding remote-write requests of 2,000 one-sample series. Prints ns per sample.
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

        let items: [(Labels, Sample)] = (0..<2000).map { i in
            (["__name__": "node_cpu_seconds_total", "cpu": "\(i / 8)", "mode": "m\(i % 8)", "instance": "127.0.0.1:\(20000 + i / 500)", "job": "bench", "bench": "t"],
             Sample(timestamp: 1_700_000_000_000 + Int64(i), value: Double(i)))
        }
        let encoder = WriteRequestEncoder()
        var bytesOut = 0
        let encode = measure(seconds) {
            bytesOut += encoder.encodeSingles(count: items.count) { items[$0] }.count
            return items.count
        }
        print(String(format: "encode 1.0 singles (libprotobuf-c + snappy): %.0f ns per sample (%.2fM samples/s)", encode, 1e3 / encode))
        // For the team's question whether the encoding should stay in libprotobuf-c
        // (ARCHITECTURE says it does): the same bytes written directly from the flat labels.
        // Never used outside this benchmark.
        let same = DirectEncoding.encode(items) == encoder.encodeSingles(count: items.count) { items[$0] }
        let direct = measure(seconds) {
            bytesOut += DirectEncoding.encode(items).count
            return items.count
        }
        print(String(format: "encode 1.0 singles written directly (experiment, same bytes: %@): %.0f ns per sample (%.2fM samples/s)", same ? "yes" : "NO", direct, 1e3 / direct))
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

/// A remote-write 1.0 request of one-sample series, written without libprotobuf-c (field 1
/// repeated TimeSeries: field 1 labels {1 name, 2 value}, field 2 samples {1 value, 2
/// timestamp}); proto3 zero values are left out as libprotobuf-c does. Benchmark only.
enum DirectEncoding {
    static func varintSize(_ v: UInt64) -> Int { v < 0x80 ? 1 : (64 - v.leadingZeroBitCount + 6) / 7 }

    static func putVarint(_ v: UInt64, _ out: inout [UInt8]) {
        var n = v
        while n >= 0x80 { out.append(UInt8(truncatingIfNeeded: n) | 0x80); n >>= 7 }
        out.append(UInt8(n))
    }

    static func encode(_ items: [(Labels, Sample)]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(items.count * 128)
        for (labels, sample) in items {
            let bits = sample.value.bitPattern
            let sampleSize = (bits != 0 ? 9 : 0) + (sample.timestamp != 0 ? 1 + varintSize(UInt64(bitPattern: sample.timestamp)) : 0)
            labels.bytes.withUnsafeBytes { flat in
                var size = 1 + varintSize(UInt64(sampleSize)) + sampleSize
                var offset = 0
                while let n = FlatLabels.readString(flat, at: &offset), let v = FlatLabels.readString(flat, at: &offset) {
                    let l = (n.count > 0 ? 1 + varintSize(UInt64(n.count)) + n.count : 0) + (v.count > 0 ? 1 + varintSize(UInt64(v.count)) + v.count : 0)
                    size += 1 + varintSize(UInt64(l)) + l
                }
                out.append(0x0A)
                putVarint(UInt64(size), &out)
                offset = 0
                while let n = FlatLabels.readString(flat, at: &offset), let v = FlatLabels.readString(flat, at: &offset) {
                    let l = (n.count > 0 ? 1 + varintSize(UInt64(n.count)) + n.count : 0) + (v.count > 0 ? 1 + varintSize(UInt64(v.count)) + v.count : 0)
                    out.append(0x0A)
                    putVarint(UInt64(l), &out)
                    if n.count > 0 { out.append(0x0A); putVarint(UInt64(n.count), &out); out.append(contentsOf: n) }
                    if v.count > 0 { out.append(0x12); putVarint(UInt64(v.count), &out); out.append(contentsOf: v) }
                }
                out.append(0x12)
                putVarint(UInt64(sampleSize), &out)
                if bits != 0 {
                    out.append(0x09)
                    for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: bits >> (8 * k))) }
                }
                if sample.timestamp != 0 { out.append(0x10); putVarint(UInt64(bitPattern: sample.timestamp), &out) }
            }
        }
        return Snappy.compress(out)
    }
}
