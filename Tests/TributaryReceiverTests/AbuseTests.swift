import Foundation
import Testing
import TributaryModel
import TributaryReceiver
import TributaryTSDB
import TributaryTestSupport
import TributaryWire

#if canImport(Glibc)
    import Glibc
#endif

/// Hostile clients over real sockets: the receiver answers with the right codes, stays up,
/// and a good write afterwards succeeds.
@Suite(.serialized) struct AbuseTests {
    static let good = WriteRequestEncoder().encode(
        WriteRequest(timeseries: [
            TimeSeries(labels: ["__name__": "ok", "job": "x"], samples: [Sample(timestamp: 1000, value: 1)])
        ]))

    typealias Connection = RawConnection

    static func request(_ body: [UInt8], port: Int) -> [UInt8] {
        Array("POST /api/v1/write HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
    }

    @Test func hugeBodyIsRefusedWith413() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let c = try Connection(port: server.port)
        // Announce 100 MiB; the receiver answers 413 without reading it all.
        let code = try await offPool {
            let head = Array("POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nContent-Length: \(100 << 20)\r\n\r\n".utf8)
            _ = c.send(head)
            let chunk = [UInt8](repeating: 0xAB, count: 1 << 20)
            for _ in 0..<40 where c.send(chunk) {}
            return c.status()
        }
        #expect(code == 413)
        #expect(try await server.write(Self.good).0 == 204)
        await server.stop()
    }

    @Test func slowClientsDoNotBlockOthers() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        // Slowloris: 50 connections that send half a request header and then nothing.
        var slow: [Connection] = []
        for _ in 0..<50 {
            let c = try Connection(port: server.port)
            _ = c.send(Array("POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Ty".utf8))
            slow.append(c)
        }
        for k in 0..<5 {
            let body = WriteRequestEncoder().encode(
                WriteRequest(timeseries: [
                    TimeSeries(labels: ["__name__": "ok", "job": "slow"], samples: [Sample(timestamp: Int64(k + 1) * 1000, value: 1)])
                ]))
            #expect(try await server.write(body).0 == 204)
        }
        withExtendedLifetime(slow) {}
        await server.stop()
    }

    @Test func thousandConcurrentConnections() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let port = server.port
        // 1,000 connections open at once, each sending one request: valid, garbage or wrong
        // content type; every one gets its status.
        // Opened and sent off the cooperative pool: a connect blocks once the accept backlog
        // is full, and the server's accept loop runs on that pool.
        let opened = try await offPool {
            var connections: [Connection] = []
            for _ in 0..<1000 { connections.append(try Connection(port: port)) }
            var expected: [Int] = []
            for (i, c) in connections.enumerated() {
                switch i % 3 {
                case 0:
                    let body = WriteRequestEncoder().encode(
                        WriteRequest(timeseries: [
                            TimeSeries(labels: ["__name__": "conn", "i": "\(i)"], samples: [Sample(timestamp: 1000, value: Double(i))])
                        ]))
                    _ = c.send(Self.request(body, port: port))
                    expected.append(204)
                case 1:
                    _ = c.send(Self.request(Array("garbage".utf8), port: port))
                    expected.append(400)
                default:
                    _ = c.send(Array("POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi".utf8))
                    expected.append(415)
                }
            }
            return (connections, expected)
        }
        var connections = opened.0
        let expected = opened.1
        let open = connections
        let statuses = try await offPool { open.map { $0.status() } }
        #expect(statuses == expected)
        connections.removeAll()
        #expect(server.receiver.head.numSeries == 334)
        #expect(try await server.write(Self.good).0 == 204)
        await server.stop()
    }
}
