import NIOCore
import NIOPosix
import Testing
import TributaryHTTPServer

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
}
