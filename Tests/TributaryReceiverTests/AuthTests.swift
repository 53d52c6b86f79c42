import Foundation
import Testing
import TributaryModel
import TributaryReceiver
import TributaryTestSupport
import TributaryWire

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite(.serialized) struct AuthTests {
    /// bcrypt of "s3cret" at cost 4 (cheap for tests; made with Python's crypt module).
    static let hash = "$2b$04$zqx20X24tvq2eKiSSq4thO5aubtNAiYKk0HNsxO8jnlp08CT44sjW"

    @Test func authenticatorChecksTokensAndBcryptUsers() {
        let a = Authenticator(AccessRule(bearerTokens: ["t0ken"], basicUsers: ["alice": Self.hash]))
        #expect(a.allows("Bearer t0ken"))
        #expect(!a.allows("Bearer t0ke"))
        #expect(!a.allows(nil))
        #expect(a.allows("Basic " + Data("alice:s3cret".utf8).base64EncodedString()))
        #expect(a.allows("Basic " + Data("alice:s3cret".utf8).base64EncodedString()), "cached")
        #expect(!a.allows("Basic " + Data("alice:wrong".utf8).base64EncodedString()))
        #expect(!a.allows("Basic " + Data("bob:s3cret".utf8).base64EncodedString()))
        #expect(!a.allows("Basic !!notbase64"))
        #expect(Authenticator(AccessRule()).allows(nil), "no rule: open")
        // Schemes are case-insensitive (RFC 9110 §11.1); the credentials are not.
        #expect(a.allows("bearer t0ken"))
        #expect(a.allows("BEARER  t0ken"), "more than one space after the scheme")
        #expect(!a.allows("bearer T0KEN"))
        #expect(a.allows("BASIC " + Data("alice:s3cret".utf8).base64EncodedString()))
        #expect(a.allows("basic " + Data("alice:s3cret".utf8).base64EncodedString()))
        #expect(!a.allows("Bearer"), "a scheme without credentials")
    }

    @Test func writeAndReadAreGuardedSeparately() async throws {
        let server = try await TestServer { c in
            c.auth.write = AccessRule(bearerTokens: ["writer-token"])
            c.auth.read = AccessRule(basicUsers: ["grafana": Self.hash])
        }
        defer { server.removeData() }
        let body = WriteRequestEncoder().encode(
            WriteRequest(timeseries: [
                TimeSeries(labels: ["__name__": "m", "job": "x"], samples: [Sample(timestamp: 1000, value: 1)])
            ]))
        // Raw sockets: URLSession on Linux waits for a credential delegate after a 401 with
        // WWW-Authenticate instead of returning it.
        let port = server.port
        func status(_ head: String, _ authorization: String?, body: [UInt8] = []) async throws -> Int {
            try await offPool {
                guard let c = try? AbuseTests.Connection(port: port) else { return -1 }
                var text = head + "\r\nHost: x\r\nContent-Length: \(body.count)\r\n"
                if let authorization { text += "Authorization: \(authorization)\r\n" }
                _ = c.send(Array((text + "\r\n").utf8) + body)
                return c.status()
            }
        }
        func write(_ authorization: String?) async throws -> Int {
            try await status("POST /api/v1/write HTTP/1.1\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy", authorization, body: body)
        }
        func query(_ authorization: String?) async throws -> Int {
            try await status("GET /api/v1/query?query=m&time=1 HTTP/1.1", authorization)
        }
        let basic = "Basic " + Data("grafana:s3cret".utf8).base64EncodedString()
        let first = try await write(nil)
        #expect(first == 401, "got \(first)")
        #expect(try await write("Bearer wrong") == 401)
        #expect(try await write(basic) == 401, "read credentials do not allow writes")
        #expect(try await write("Bearer writer-token") == 204)
        #expect(try await query(nil) == 401)
        #expect(try await query("Bearer writer-token") == 401, "write credentials do not allow reads")
        #expect(try await query(basic) == 200)
        #expect(try await server.get("/-/healthy").0 == 200, "health stays open")
        await server.stop()
    }
}
