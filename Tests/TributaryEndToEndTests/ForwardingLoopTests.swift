import Foundation
import Testing
import TributaryModel
import TributaryTestSupport
import TributaryWire

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Chained receivers on the real binary: A forwards to B (a site to its central receiver) and,
/// by mistake, B forwards back to A. The chain A → B delivers; B's writes back to A are
/// refused as a loop (400, counted, logged with the chain) instead of circling forever.
@Suite(.serialized) struct ForwardingLoopTests {
    static func receiver(port: Int, upstream: Int, name: String) throws -> PeerProcess {
        try PeerProcess("tributary", port: port, readyPath: "/-/ready") { port, dir in
            let yml = """
                remote_write:
                  - url: http://127.0.0.1:\(upstream)/api/v1/write
                    name: \(name)
                    queue_config: {batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 500ms}
                """
            try yml.write(toFile: dir + "/receiver.yml", atomically: true, encoding: .utf8)
            return ["receive", "--config", dir + "/receiver.yml", "--listen", "127.0.0.1:\(port)", "--data-dir", dir + "/data"]
        }
    }

    @Test func aLoopIsRefusedAndTheChainStillDelivers() async throws {
        try await AgentProcessTests.onThread { check in
            let portA = freePort(), portB = freePort()
            let a = try Self.receiver(port: portA, upstream: portB, name: "to-b")
            defer { a.stop(); a.removeDirectory() }
            let b = try Self.receiver(port: portB, upstream: portA, name: "to-a")
            defer { b.stop(); b.removeDirectory() }
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let request = WriteRequest(timeseries: [TimeSeries(labels: ["__name__": "looped", "job": "x"], samples: [Sample(timestamp: now, value: 7)])])
            var post = URLRequest(url: URL(string: "http://127.0.0.1:\(portA)/api/v1/write")!)
            post.httpMethod = "POST"
            post.setValue("application/x-protobuf", forHTTPHeaderField: "Content-Type")
            post.setValue("snappy", forHTTPHeaderField: "Content-Encoding")
            post.httpBody = Data(WriteRequestEncoder().encode(request))
            check(try httpRequest(post).status == 204)

            var refused = 0.0
            let start = Date()
            while Date().timeIntervalSince(start) < 15 {
                refused = exposedValue(try httpGet("http://127.0.0.1:\(portA)/metrics"), "tributary_remote_write_requests_refused_total", labels: "reason=\"forwarding_loop\"")
                if refused > 0 { break }
                Thread.sleep(forTimeInterval: 0.2)
            }
            check(refused >= 1, "A refuses what B sends back: \(a.output.suffix(600))")
            // The chain A → B delivered the sample.
            let atB = try httpJSON("http://127.0.0.1:\(portB)/api/v1/query?query=looped")
            let result = (atB["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
            check(result.count == 1, "B holds the forwarded series: \(atB)")
            check(a.output.contains("forwarding loop"), "the refusal is logged with its reason: \(a.output.suffix(600))")
            // B's queue dropped the refused request (a 4xx is not retried) rather than circling.
            let failed = exposedValue(try httpGet("http://127.0.0.1:\(portB)/metrics"), "prometheus_remote_storage_samples_failed_total")
            check(failed >= 1, "B counts the samples A refused: \(failed)")
            // Each receiver has an id of its own, kept in its data directory.
            let idA = try String(contentsOfFile: a.dir + "/data/receiver-id", encoding: .utf8)
            let idB = try String(contentsOfFile: b.dir + "/data/receiver-id", encoding: .utf8)
            check(!idA.isEmpty && idA != idB)
        }
    }
}
