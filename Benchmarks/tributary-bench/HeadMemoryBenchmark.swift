import Foundation
import TributaryModel

/// Memory per active series as an operator sees it (issue "TSDB part 2"): each server started
/// fresh, its resident memory read once it answers and has settled, then `series`
/// node_exporter-shaped series remote-written for `rounds` scrapes at 15 s spacing (the same
/// requests for all three, 2,000 series each, 4 connections), the memory read again after 30
/// scrapes (one open chunk per series) and after all of them (240 by default: an hour, with
/// full chunks closed), each time once it settled. Per series: the growth over the series
/// count. The Go servers' figure includes their garbage collector's headroom, as their
/// resident memory does.
enum HeadMemoryBenchmark {
    static func run(series: Int, rounds: Int, tributary: String) throws {
        let labels = NodeExporterLoad.series(count: series)
        let start = (Int64(Date().timeIntervalSince1970) - Int64(rounds) * 15 - 60) * 1000
        let checkpoints = Array(Set([min(30, rounds), rounds])).sorted()
        print("head memory: \(series) series x \(rounds) samples at 15 s, resident memory growth per series after \(checkpoints) samples")
        var figures: [(String, Int, Double)] = []
        for target in IngestBenchmark.targets(tributary: tributary) {
            let server = try IngestBenchmark.Server(target)
            defer { server.stop() }
            let before = settledKiB(server)
            var failures = 0
            var sent = 0
            for checkpoint in checkpoints {
                while sent < checkpoint {
                    let bodies = NodeExporterLoad.round(series: labels, perRequest: 2000, round: sent, startMs: start)
                    failures += IngestBenchmark.Server.send(bodies, port: server.port, connections: 4)
                    sent += 1
                }
                let after = settledKiB(server)
                let perSeries = (after - before) * 1024 / Double(series)
                figures.append((target.name, checkpoint, perSeries))
                print(
                    String(
                        format: "  %-17@ %3d samples: %6.0f B per series   (resident %.0f MiB -> %.0f MiB, %d failed requests)",
                        target.name as NSString, checkpoint, perSeries, before / 1024, after / 1024, failures))
            }
        }
        for checkpoint in checkpoints {
            guard let ours = figures.first(where: { $0.0 == "tributary" && $0.1 == checkpoint }) else { continue }
            for other in figures where other.0 != "tributary" && other.1 == checkpoint {
                print(String(format: "  %3d samples: tributary vs %-17@ memory per series %.2fx", checkpoint, other.0 as NSString, ours.2 / other.2))
            }
        }
    }

    /// VmRSS once two readings 2 s apart differ by less than 1% (at most 30 s).
    static func settledKiB(_ server: IngestBenchmark.Server) -> Double {
        var last = server.memoryKiB("VmRSS")
        for _ in 0..<15 {
            Thread.sleep(forTimeInterval: 2)
            let now = server.memoryKiB("VmRSS")
            if abs(now - last) < last / 100 { return now }
            last = now
        }
        return last
    }
}
