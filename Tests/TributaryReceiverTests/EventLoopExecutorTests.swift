import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing
import TributaryHTTPServer
import TributaryTestSupport

@testable import TributaryReceiver

/// Connections are served on their event loops: a task that prefers a loop runs there, and
/// work that may take long (a write's decoding, a reload) leaves the loop and comes back.
struct EventLoopExecutorTests {
    @Test func aTaskOnItsLoopLeavesItForLongWorkAndComesBack() async {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let seen = await withTaskExecutorPreference(EventLoopExecutor(loop)) {
            let before = loop.inEventLoop
            let during = await ReceiverServer.offLoop { loop.inEventLoop }
            let after = loop.inEventLoop
            return [before, during, after]
        }
        #expect(seen == [true, false, true])
    }

    /// A service run on a loop (how both servers run their HTTP application) runs there, and
    /// so do the tasks it adds to a task group (Hummingbird's accept loop adds one per
    /// connection).
    @Test func aServiceOnALoopRunsItsChildTasksThere() async throws {
        final class Probe: Service, Sendable {
            let loop: any EventLoop
            let seen = Mutex<[Bool]>([])
            init(loop: any EventLoop) { self.loop = loop }
            func run() async {
                seen.withLock { $0.append(loop.inEventLoop) }
                await withDiscardingTaskGroup { group in
                    for _ in 0..<3 { group.addTask { self.seen.withLock { $0.append(self.loop.inEventLoop) } } }
                }
            }
        }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let probe = Probe(loop: loop)
        try await OnEventLoop(probe, on: loop).run()
        #expect(probe.seen.withLock { $0 } == [true, true, true, true])
    }

    /// The receiver's application runs on an event loop: its accept loop (which reports the
    /// bound port) is not on the cooperative pool.
    @Test func theReceiverAcceptsOnAnEventLoop() async throws {
        let server = try await TestServer()
        await server.stop()
        #expect(server.startedOnEventLoop)
    }

    /// Over HTTP: the guarded server runs a route's handler on an event loop thread, and
    /// `offLoop` inside it on another thread.
    @Test func theGuardedServerAnswersOnTheConnectionsLoop() async throws {
        let router = Router()
        router.get("/where") { _, _ -> String in
            let onLoop = MultiThreadedEventLoopGroup.currentEventLoop != nil
            let offLoop = await ReceiverServer.offLoop { MultiThreadedEventLoopGroup.currentEventLoop != nil }
            return "handler \(onLoop ? "loop" : "pool"), offLoop \(offLoop ? "loop" : "pool")"
        }
        var logger = Logger(label: "test.loop")
        logger.logLevel = .warning
        let bound = Mutex<Int?>(nil)
        let app = Application(
            router: router, server: .guarded(ConnectionLimits(), counts: ConnectionCounts()),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in bound.withLock { $0 = channel.localAddress?.port } }, logger: logger)
        let group = ServiceGroup(services: [app], logger: logger)
        let task = Task { try await group.run() }
        let port = try await boundPort(bound, "the server")
        let answer = try await offPool {
            let c = try RawConnection(port: port)
            _ = c.send(Array("GET /where HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            var buffer = [UInt8](repeating: 0, count: 4096)
            var got: [UInt8] = []
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, 4096, 0) }
                if n <= 0 { break }
                got += buffer[0..<n]
            }
            return String(decoding: got, as: UTF8.self)
        }
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        #expect(answer.hasSuffix("handler loop, offLoop pool"), "\(answer)")
    }
}
