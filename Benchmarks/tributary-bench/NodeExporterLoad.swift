import TributaryModel
import TributaryWire

/// Synthetic series shaped like node_exporter's: about six labels each, realistic names and
/// values, one sample per series per request.
enum NodeExporterLoad {
    /// `count` distinct series spread over hosts of a few groups.
    static func series(count: Int, replica: String? = nil) -> [Labels] {
        var out: [Labels] = []
        out.reserveCapacity(count)
        let modes = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"]
        let devices = ["eth0", "eth1", "lo", "docker0"]
        let mounts = [("/", "ext4", "/dev/sda1"), ("/boot", "vfat", "/dev/sda2"), ("/var", "xfs", "/dev/sdb1"), ("/run", "tmpfs", "tmpfs")]
        var host = 0
        while out.count < count {
            let instance = "lab-host-\(host):9100"
            let group = "lab-\(host % 8)"
            func add(_ pairs: [String: String]) {
                guard out.count < count else { return }
                var b = LabelsBuilder()
                b.set("instance", instance)
                b.set("job", "node")
                b.set("group", group)
                if let replica { b.set("replica", replica) }
                for (k, v) in pairs { b.set(k, v) }
                out.append(b.labels())
            }
            for cpu in 0..<8 { for mode in modes { add(["__name__": "node_cpu_seconds_total", "cpu": "\(cpu)", "mode": mode]) } }
            for d in devices {
                add(["__name__": "node_network_receive_bytes_total", "device": d])
                add(["__name__": "node_network_transmit_bytes_total", "device": d])
            }
            for (m, fs, dev) in mounts {
                add(["__name__": "node_filesystem_avail_bytes", "mountpoint": m, "fstype": fs, "device": dev])
                add(["__name__": "node_filesystem_size_bytes", "mountpoint": m, "fstype": fs, "device": dev])
            }
            for name in ["node_load1", "node_load5", "node_load15", "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes"] {
                add(["__name__": name])
            }
            host += 1
        }
        return out
    }

    /// Encoded requests of `perRequest` series each, one sample per series, `rounds` timestamps.
    static func requests(series: [Labels], perRequest: Int, rounds: Int, startMs: Int64 = 1_700_000_000_000) -> [[UInt8]] {
        (0..<rounds).flatMap { round(series: series, perRequest: perRequest, round: $0, startMs: startMs) }
    }

    /// The requests of one round (timestamp `startMs + round × 15 s`), encoded.
    static func round(series: [Labels], perRequest: Int, round: Int, startMs: Int64) -> [[UInt8]] {
        let encoder = WriteRequestEncoder()
        let ts = startMs + Int64(round) * 15_000
        var bodies: [[UInt8]] = []
        var i = 0
        while i < series.count {
            let chunk = series[i..<min(i + perRequest, series.count)]
            let request = WriteRequest(
                timeseries: chunk.enumerated().map { k, labels in
                    TimeSeries(labels: labels, samples: [Sample(timestamp: ts, value: Double(round * 1000 + k) * 1.5)])
                })
            bodies.append(encoder.encode(request))
            i += perRequest
        }
        return bodies
    }
}
