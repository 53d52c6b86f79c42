import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing
import TributaryModel
import TributaryTestSupport
import TributaryWire

@testable import TributaryAgent
@testable import TributaryRemoteWrite

/// The scrape client's HTTP/1.1 response reader on bytes, and the client against a TCP server
/// that answers each request with scripted bytes (framing, gzip, closes, timeouts, TLS-less).
@Suite struct ScrapeClientTests {
    static func read(_ text: String, maxBody: Int = 1 << 20, splitEvery: Int? = nil) throws -> HTTPResponseReader {
        var reader = HTTPResponseReader(maxBody: maxBody)
        let bytes = Array(text.utf8)
        let step = splitEvery ?? max(bytes.count, 1)
        var i = 0
        while i < bytes.count, !reader.isComplete {
            let end = min(i + step, bytes.count)
            let used = try bytes[i..<end].withUnsafeBytes { try reader.feed($0) }
            i += used
            if i < end { break }  // the response ended inside this piece
        }
        return reader
    }

    static let chunked =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain; version=0.0.4\r\n\r\n"
        + "5\r\nup 1\n\r\n1a;ext=1\r\nnode_load1 0.5\nnode_load5 \r\n3\r\n0.7\r\n0\r\nTrailer: x\r\n\r\n"

    @Test func framingsGiveTheSameBodyHoweverTheBytesAreSplit() throws {
        let fixed = "HTTP/1.1 200 OK\r\ncontent-length: 10\r\nContent-Type: text/plain\r\n\r\nup 1\nx 2\n\n"
        for step in [1, 2, 3, 7, 1000] {
            let a = try Self.read(fixed, splitEvery: step)
            #expect(a.isComplete && a.status == 200 && String(decoding: a.body, as: UTF8.self) == "up 1\nx 2\n\n" && a.keepAlive, "step \(step)")
            #expect(a.contentType == "text/plain")
            let c = try Self.read(Self.chunked, splitEvery: step)
            #expect(c.isComplete && String(decoding: c.body, as: UTF8.self) == "up 1\nnode_load1 0.5\nnode_load5 0.7", "step \(step)")
            #expect(c.contentType == "text/plain; version=0.0.4")
        }
    }

    @Test func bodyUntilCloseAndConnectionHeaders() throws {
        var r = try Self.read("HTTP/1.0 200 OK\nContent-Type: text/plain\n\nup 1\n", splitEvery: 4)
        #expect(!r.isComplete && !r.keepAlive)
        try r.closed()
        #expect(r.isComplete && String(decoding: r.body, as: UTF8.self) == "up 1\n")
        #expect(!(try Self.read("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")).keepAlive)
        #expect((try Self.read("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")).keepAlive)
        let interim = try Self.read("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Busy now\r\nContent-Length: 2\r\n\r\nno", splitEvery: 5)
        #expect(interim.isComplete && interim.status == 503 && interim.reason == "Busy now")
    }

    @Test func refusesWhatIsMalformedOrTooLarge() throws {
        let cases: [(String, String)] = [
            ("HTTP/2 200 OK\r\n\r\n", "malformed status line \"HTTP/2 200 OK\""),
            ("HTTP/1.1 2x0 OK\r\n\r\n", "malformed status line"),
            ("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header line 2"),
            ("HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n", "bad Content-Length \"-3\""),
            ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "bad Content-Length \"6\""),
            ("HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n", "body larger than the limit of 100 bytes"),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size \"zz\""),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n", "body larger than the limit of 100 bytes"),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", "chunk data longer than its size"),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n", "chunk size too large"),
            ("HTTP/1.1 200 OK\r\n\r\n" + String(repeating: "x", count: 101), "body larger than the limit of 100 bytes")
        ]
        for (text, message) in cases {
            for step in [1, 1000] {
                do {
                    _ = try Self.read(text, maxBody: 100, splitEvery: step)
                    Issue.record("accepted \(text.debugDescription)")
                } catch {
                    #expect("\(error)".contains(message), "\(text.debugDescription): \(error)")
                }
            }
        }
        var cut = try Self.read("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        #expect(throws: HTTPResponseReader.Failure.self) { try cut.closed() }
        var none = HTTPResponseReader(maxBody: 10)
        do { try none.closed() } catch { #expect(error.beforeResponse) }
        var head = HTTPResponseReader(maxBody: 10)
        let long = Array(("HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 70_000)).utf8)
        #expect(throws: HTTPResponseReader.Failure.self) { try long.withUnsafeBytes { _ = try head.feed($0) } }
    }

    // MARK: against a scripted server

    /// Answers the n-th request with `responses[n]` (bytes, then whether to close the connection
    /// after them; no bytes: close without answering); `nil` means never answer. Counts connections and keeps the requests.
    final class Script: Sendable {
        let responses: Mutex<[([UInt8], Bool)?]>
        let connections = Atomic<Int>(0)
        let requests = Mutex<[String]>([])
        init(_ responses: [([UInt8], Bool)?]) { self.responses = Mutex(responses) }
    }

    static func serve(_ script: Script) async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                script.connections.add(1, ordering: .relaxed)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Answerer(script: script))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    final class Answerer: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let script: Script
        var pending = ""
        init(script: Script) { self.script = script }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            pending += String(buffer: unwrapInboundIn(data))
            guard pending.contains("\r\n\r\n") else { return }
            let request = pending
            pending = ""
            script.requests.withLock { $0.append(request) }
            guard let (bytes, close) = script.responses.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { return }
            if !bytes.isEmpty { context.writeAndFlush(NIOAny(ByteBuffer(bytes: bytes)), promise: nil) }
            if close { context.close(promise: nil) }
        }
    }

    static func target(port: Int, interval: Int64 = 5_000, timeout: Int64 = 2_000, bodySizeLimit: Int = 0, scheme: String = "http") throws -> ScrapeTarget {
        var sc = ScrapeConfig(jobName: "t", scrapeInterval: interval, scrapeTimeout: timeout)
        sc.scheme = scheme
        var group = StaticConfig()
        group.targets = ["127.0.0.1:\(port)"]
        sc.staticConfigs = [group]
        sc.limits.bodySizeLimit = bodySizeLimit
        sc.http.authorization = (type: "Bearer", credentials: "s3cret")
        return try #require(ScrapeTarget.resolve(sc).first)
    }

    static func response(_ body: [UInt8], headers: String = "Content-Type: text/plain; version=0.0.4\r\n", status: String = "200 OK") -> [UInt8] {
        Array("HTTP/1.1 \(status)\r\n\(headers)Content-Length: \(body.count)\r\n\r\n".utf8) + body
    }

    static func gzip(_ text: String) throws -> [UInt8] {
        let path = NSTemporaryDirectory() + "tributary-gzip-" + UUID().uuidString
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-c", path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return [UInt8](data)
    }

    @Test func keepsTheConnectionReconnectsAndInflates() async throws {
        let text = "# TYPE up gauge\nup 1\n" + String(repeating: "node_x{a=\"b\"} 1\n", count: 2000)
        let zipped = try Self.gzip(text)
        let script = Script([
            (Self.response(Array("up 1\n".utf8)), false),
            (Self.response(zipped, headers: "Content-Encoding: gzip\r\nContent-Type: text/plain\r\n"), true),
            (Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nup\r\n3\r\n 1\n\r\n0\r\n\r\n".utf8), false),
            (Self.response(Array("gone".utf8), status: "404 Not Found"), false)
        ])
        let server = try await Self.serve(script)
        defer { server.close(promise: nil) }
        let target = try Self.target(port: server.localAddress?.port ?? 0)
        let fetch = try ScrapeClient(settings: target.config.http).fetcher(for: target)
        let first = try await fetch(target)
        #expect(first.body == Array("up 1\n".utf8) && first.contentType == "text/plain; version=0.0.4")
        let second = try await fetch(target)
        #expect(String(decoding: second.body, as: UTF8.self) == text, "gzip body inflated")
        // The server closed after the second answer: the third scrape opens a new connection.
        let third = try await fetch(target)
        #expect(third.body == Array("up 1\n".utf8))
        await #expect(throws: ScrapeError.self) { try await fetch(target) }
        // The script is done: the server reads the request and never answers.
        do { _ = try await fetch(target); Issue.record("an answer from nowhere") } catch { #expect("\(error)".contains("timeout: no complete response in time"), "\(error)") }
        #expect(script.connections.load(ordering: .relaxed) == 2, "one connection for the first two scrapes, one after the close")
        let requests = script.requests.withLock { $0 }
        #expect(requests.first?.hasPrefix("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:") == true)
        for header in ["Accept: application/openmetrics-text", "Accept-Encoding: gzip", "Authorization: Bearer s3cret", "X-Prometheus-Scrape-Timeout-Seconds: 2.0"] {
            #expect(requests.first?.contains(header) == true, "\(header) in \(requests.first ?? "")")
        }
    }

    @Test func staleKeptAliveConnectionIsRetriedOnce() async throws {
        // The server answers, then closes the kept-alive connection as the next request arrives
        // (as servers with short idle timeouts do): that scrape is sent again on a new one.
        let script = Script([(Self.response(Array("up 1\n".utf8)), false), ([], true), (Self.response(Array("up 2\n".utf8)), false)])
        let server = try await Self.serve(script)
        defer { server.close(promise: nil) }
        let target = try Self.target(port: server.localAddress?.port ?? 0)
        let fetch = try ScrapeClient(settings: target.config.http).fetcher(for: target)
        #expect(try await fetch(target).body == Array("up 1\n".utf8))
        #expect(try await fetch(target).body == Array("up 2\n".utf8))
        #expect(script.connections.load(ordering: .relaxed) == 2)
        #expect(script.requests.withLock { $0.count } == 3)
    }

    @Test func timeoutAndLimitsFailTheScrape() async throws {
        let script = Script([nil, (Self.response(Array(repeating: 65, count: 5000)), false), (Self.response(try Self.gzip(String(repeating: "a", count: 100_000)), headers: "Content-Encoding: gzip\r\n"), false)])
        let server = try await Self.serve(script)
        defer { server.close(promise: nil) }
        let slow = try Self.target(port: server.localAddress?.port ?? 0, timeout: 300)
        let started = ContinuousClock.now
        do { _ = try await ScrapeClient(settings: slow.config.http).fetcher(for: slow)(slow); Issue.record("no timeout") } catch {
            #expect("\(error)".contains("timeout: no complete response in time"), "\(error)")
        }
        #expect(ContinuousClock.now - started < .seconds(2))
        // HTTPS to a server that never answers the TLS handshake: the same deadline holds.
        let handshake = try Self.target(port: server.localAddress?.port ?? 0, timeout: 300, scheme: "https")
        let handshakeStarted = ContinuousClock.now
        do { _ = try await ScrapeClient(settings: handshake.config.http).fetcher(for: handshake)(handshake); Issue.record("no timeout in the handshake") } catch {
            #expect("\(error)".contains("timeout"), "\(error)")
        }
        #expect(ContinuousClock.now - handshakeStarted < .seconds(2), "a stalled TLS handshake ends at the scrape timeout")
        let limited = try Self.target(port: server.localAddress?.port ?? 0, bodySizeLimit: 4096)
        let fetch = try ScrapeClient(settings: limited.config.http).fetcher(for: limited)
        do { _ = try await fetch(limited); Issue.record("over the limit") } catch { #expect("\(error)".contains("body larger than the limit of 4096"), "\(error)") }
        do { _ = try await fetch(limited); Issue.record("inflated over the limit") } catch { #expect("\(error)".contains("inflates past the limit of 4096"), "\(error)") }
        let refused = try Self.target(port: freePort())
        do { _ = try await ScrapeClient(settings: refused.config.http).fetcher(for: refused)(refused); Issue.record("connected") } catch {
            #expect("\(error)".contains("cannot connect to 127.0.0.1"), "\(error)")
        }
    }

    /// The agent's way to run a loop: on the event loop of its target's connection (debug builds
    /// assert it), stopped by cancelling its task, whether it sleeps or waits for an answer that
    /// never comes; an aborted scrape writes nothing.
    @Test func loopOnItsEventLoopScrapesAndStopsWhenCancelled() async throws {
        let dir = NSTemporaryDirectory() + "tributary-loop-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let storage = try QueueStorage(directory: dir, logger: Logger(label: "test"))
        // The first scrape is answered; the second is read and never answered.
        let script = Script([(Self.response(Array("node_x 2\n".utf8)), false)])
        let server = try await Self.serve(script)
        defer { server.close(promise: nil) }
        func loop(interval: Int64) throws -> ScrapeLoop {
            let target = try Self.target(port: server.localAddress?.port ?? 0, interval: interval, timeout: 60_000)
            let scraper = try ScrapeClient(settings: target.config.http).scraper(for: target, on: MultiThreadedEventLoopGroup.singleton.next())
            return ScrapeLoop(target: target, storage: storage, externalLabels: [:], metrics: AgentMetrics(), logger: Logger(label: "test"), clock: .system, source: .scraper(scraper))
        }
        let scraping = try loop(interval: 500)
        let task = Task { await scraping.run() }
        let waitUntil = ContinuousClock.now + .seconds(15)
        while script.requests.withLock({ $0.count }) < 2, ContinuousClock.now < waitUntil { try await Task.sleep(for: .milliseconds(20)) }
        try #require(script.requests.withLock { $0.count } == 2, "the second scrape is in flight")
        #expect(scraping.status.withLock { $0.health } == "up")
        var started = ContinuousClock.now
        task.cancel()
        await task.value
        #expect(ContinuousClock.now - started < .seconds(2), "cancelling aborts the scrape in flight (its timeout is a minute)")
        let written = try StalenessTests.written(dir)
        #expect(written.first { $0.key.contains("__name__=\"node_x\"") }?.value.map(\.1) == [2])
        #expect(written.first { $0.key.contains("__name__=\"up\"") }?.value.first?.1 == 1)

        let sleeping = try loop(interval: 3_600_000)
        let idle = Task { await sleeping.run() }
        try await Task.sleep(for: .milliseconds(100))
        started = ContinuousClock.now
        idle.cancel()
        await idle.value
        #expect(ContinuousClock.now - started < .seconds(2), "cancelling ends the sleep")
    }

    /// An exchange's timeout is left to fire after the exchange ends; firing during the next
    /// exchange on the same connection, it must not end that one.
    @Test func anEndedExchangesTimeoutLeavesTheNextAlone() async throws {
        let script = Script([(Self.response(Array("up 1\n".utf8)), false), nil])
        let server = try await Self.serve(script)
        defer { server.close(promise: nil) }
        let endpoint = try HTTPEndpoint(url: "http://127.0.0.1:\(server.localAddress?.port ?? 0)/metrics")
        let connection = HTTP1Connection(endpoint: endpoint, tls: nil, serverName: nil)
        let request = ByteBuffer(string: try endpoint.head(method: "GET", headers: []) + "\r\n")
        let first = try await connection.exchange(request, maxBody: 1 << 20, deadline: .now() + .milliseconds(300))
        #expect(first.body == Array("up 1\n".utf8))
        let started = ContinuousClock.now
        do {
            _ = try await connection.exchange(request, maxBody: 1 << 20, deadline: .now() + .seconds(2))
            Issue.record("an answer from nowhere")
        } catch {
            #expect("\(error)".contains("timeout"), "\(error)")
        }
        #expect(ContinuousClock.now - started > .milliseconds(1500), "ended by its own deadline, not the first exchange's")
        #expect(script.connections.load(ordering: .relaxed) == 1)
    }
}
