import Foundation
import Synchronization
import Testing
import TributaryHTTPServer
import TributaryReceiver
import TributaryTestSupport

/// Slow and greedy clients against the receiver's HTTP server (deadlines shortened): a head
/// trickled byte by byte, a silent connection, a trickled body and an idle kept-alive
/// connection are each closed at their deadline, not only outlived; the connection cap closes
/// the connection over it at once; other clients are served throughout.
@Suite(.serialized) struct SlowClientTests {
    static func limits() -> ConnectionLimits {
        var l = ConnectionLimits(maxConnections: 12)
        l.readHeaderTimeout = 1_000
        l.readTimeout = 3_000
        return l
    }

    /// Seconds until the server closes `c` while `tick` runs every 100 ms (nil: still open
    /// after `limit` seconds).
    static func secondsUntilClosed(_ c: RawConnection, limit: Double, tick: (Int) -> Void = { _ in }) -> Double? {
        let start = Date()
        var k = 0
        while Date().timeIntervalSince(start) < limit {
            if c.isClosedByPeer { return Date().timeIntervalSince(start) }
            tick(k)
            k += 1
            Thread.sleep(forTimeInterval: 0.1)
        }
        return nil
    }

    @Test func stalledConnectionsAreClosedAtTheirDeadlines() async throws {
        let server = try await TestServer { $0.connectionLimits = Self.limits() }
        defer { server.removeData() }
        let port = server.port
        let results = try await offPool { () -> [String: Double?] in
            var out: [String: Double?] = [:]
            // A head trickled a byte every 100 ms: reading never pauses, the head never ends.
            let trickle = try RawConnection(port: port)
            _ = trickle.send(Array("GET /api/v1/query?query=1 HTTP/1.1\r\nHost: x\r\n".utf8))
            out["trickled head"] = Self.secondsUntilClosed(trickle, limit: 5) { _ in _ = trickle.send(Array("X".utf8)) }
            // Connected and silent.
            let silent = try RawConnection(port: port)
            out["silent connection"] = Self.secondsUntilClosed(silent, limit: 5)
            // A complete head, then a body of 1000 bytes at 10 bytes every 100 ms.
            let body = try RawConnection(port: port)
            _ = body.send(Array("POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nContent-Length: 1000\r\n\r\n".utf8))
            out["trickled body"] = Self.secondsUntilClosed(body, limit: 8) { _ in _ = body.send([UInt8](repeating: 0, count: 10)) }
            // A request answered, then nothing: kept alive until the read timeout.
            let idle = try RawConnection(port: port)
            _ = idle.send(Array("GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            out["answered"] = Double(idle.status())
            out["idle after an answer"] = Self.secondsUntilClosed(idle, limit: 8)
            return out
        }
        // 99: never closed.
        let trickled = (results["trickled head"] ?? nil) ?? 99
        #expect(trickled > 0.7 && trickled < 2.5, "closed after the 1 s head deadline, though bytes kept coming: \(trickled) s")
        let silent = (results["silent connection"] ?? nil) ?? 99
        #expect(silent > 0.7 && silent < 2.5, "\(silent) s")
        let body = (results["trickled body"] ?? nil) ?? 99
        #expect(body > 2.5 && body < 5, "closed at the 3 s read deadline (1000 bytes would take 10 s): \(body) s")
        #expect(results["answered"] == 200)
        let idle = (results["idle after an answer"] ?? nil) ?? 99
        #expect(idle > 2.5 && idle < 5, "kept alive for the 3 s read timeout, not the 1 s head deadline: \(idle) s")
        #expect(server.receiver.connectionCounts.timedOut.load(ordering: .relaxed) >= 4)
        #expect(try await server.queryScalar("vector(1)") == 1, "others are served")
        await server.stop()
    }

    @Test func theConnectionOverTheCapIsClosedAtOnce() async throws {
        let server = try await TestServer { $0.connectionLimits = Self.limits() }
        defer { server.removeData() }
        let port = server.port
        let (over, stillOpen, servedAfter) = try await offPool { () -> (Double?, Int, Int) in
            var held: [RawConnection] = []
            for _ in 0..<12 { held.append(try RawConnection(port: port)) }
            Thread.sleep(forTimeInterval: 0.2)
            let extra = try RawConnection(port: port)
            let over = Self.secondsUntilClosed(extra, limit: 0.6)
            let stillOpen = held.filter { !$0.isClosedByPeer }.count
            held.removeAll()  // closed by us: room again
            Thread.sleep(forTimeInterval: 0.2)
            let next = try RawConnection(port: port)
            _ = next.send(Array("GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            return (over, stillOpen, next.status())
        }
        #expect(over != nil && (over ?? 1) < 0.5, "the 13th connection is closed when accepted: \(String(describing: over))")
        #expect(stillOpen == 12, "the 12 within the cap stay open")
        #expect(servedAfter == 200)
        #expect(server.receiver.connectionCounts.refused.load(ordering: .relaxed) == 1)
        await server.stop()
    }
}
