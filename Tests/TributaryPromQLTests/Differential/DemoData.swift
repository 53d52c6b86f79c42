import Foundation
import TributaryModel

/// Synthetic series named like the PromLabs demo service that promql-test-queries.yml
/// expects, one hour at 5 s. Sample times carry odd millisecond offsets so that none falls on
/// a range boundary (where Prometheus 2.x and 3.x select differently).
enum DemoData {
    static let instances = ["demo.promlabs.com:10000", "demo.promlabs.com:10001", "demo.promlabs.com:10002"]

    static func generate(start: Int64, points: Int = 720) -> [(Labels, [Sample])] {
        var out: [(Labels, [Sample])] = []
        var rng = Xorshift(seed: 42)
        for (i, instance) in instances.enumerated() {
            let base: [(String, String)] = [("instance", instance), ("job", "demo")]
            func series(_ name: String, _ extra: [(String, String)] = [], jitter: Int64, _ value: (Int) -> Double?) {
                var b = LabelsBuilder()
                b.set("__name__", name)
                for (k, v) in base + extra { b.set(k, v) }
                var samples: [Sample] = []
                for k in 0..<points {
                    guard let v = value(k) else { continue }
                    samples.append(Sample(timestamp: start + Int64(k) * 5000 + jitter, value: v))
                }
                out.append((b.labels(), samples))
            }
            let j = Int64(123 + 7 * i)
            for (t, type) in ["free", "used", "buffers", "cached"].enumerated() {
                let level = Double(1 + t) * 1e9 * Double(i + 1)
                series("demo_memory_usage_bytes", [("type", type)], jitter: j + Int64(t)) { k in level + 1e8 * sin(Double(k) / 30 + Double(t)) }
            }
            series("demo_num_cpus", jitter: j + 11) { _ in Double(4 * (i + 1)) }
            series("demo_intermittent_metric", jitter: j + 13) { k in (k / 60) % 2 == 0 ? Double(k) : nil }
            for mode in ["idle", "user", "system"] {
                var total = 0.0
                let resetAt = 300 + 50 * i
                series("demo_cpu_usage_seconds_total", [("mode", mode)], jitter: j + 17) { k in
                    if k == resetAt { total = 0 }
                    total += Double(mode.count) * 0.37 + Double(k % 7) * 0.05
                    return total
                }
            }
            var disk = 5e10
            series("demo_disk_usage_bytes", jitter: j + 19) { k in
                disk += 1e6 + Double(k % 11) * 1e5
                return disk
            }
            var lastSuccess = Double(start / 1000)
            series("demo_batch_last_success_timestamp_seconds", jitter: j + 23) { k in
                if k % 37 == 0 { lastSuccess = Double(start / 1000) + Double(k) * 5 }
                return lastSuccess
            }
            // A classic histogram per path.
            let bounds = ["0.0002", "0.001", "0.0025", "0.01", "0.05", "0.1", "0.25", "1", "+Inf"]
            for path in ["/api/foo", "/api/bar"] {
                var counts = [Double](repeating: 0, count: bounds.count)
                var sum = 0.0
                var steps: [[Double]] = []
                var sums: [Double] = []
                for _ in 0..<points {
                    let n = Int(rng.next() % 20)
                    for _ in 0..<n {
                        let bucket = Int(rng.next() % UInt64(bounds.count))
                        for b in bucket..<bounds.count { counts[b] += 1 }
                        sum += Double(bucket) * 0.01
                    }
                    steps.append(counts)
                    sums.append(sum)
                }
                for (b, le) in bounds.enumerated() {
                    series("demo_api_request_duration_seconds_bucket", [("method", "GET"), ("path", path), ("status", "200"), ("le", le)], jitter: j + 29) { k in steps[k][b] }
                }
                series("demo_api_request_duration_seconds_count", [("method", "GET"), ("path", path), ("status", "200")], jitter: j + 29) { k in steps[k][bounds.count - 1] }
                series("demo_api_request_duration_seconds_sum", [("method", "GET"), ("path", path), ("status", "200")], jitter: j + 29) { k in sums[k] }
            }
        }
        return out
    }
}

struct Xorshift {
    var state: UInt64
    init(seed: UInt64) { state = seed | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
