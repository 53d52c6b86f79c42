import Foundation
import Testing
import TributaryModel
import TributaryReceiver
import TributaryTSDB
import TributaryWire

/// `Receiver.reload`: auth, limits and dedup settings change for the next request; settings
/// bound at start are named as needing a restart.
@Suite(.serialized) struct ReloadTests {
    @Test func dedupAndLimitsFollowAReload() async throws {
        let server = try await TestServer { $0.dedupWindow = 10_000 }
        defer { server.removeData() }
        // The configured window is what a series gets until it has shown its own interval, so
        // each pair goes to a new series.
        func pair(_ t: Int64, job: String) async throws {
            for (replica, offset) in [("a", Int64(0)), ("b", Int64(700))] {
                let (status, _, text) = try await server.write(
                    ReceiverTests.body([
                        ReceiverTests.series(["__name__": "m", "job": job, "replica": replica], [(t + offset, 1)])
                    ]))
                #expect(status == 204, "\(text)")
            }
        }
        try await pair(20_000, job: "j")
        #expect(try await server.metric("tributary_remote_write_samples_deduplicated_total") == 1, "a 10 s window holds one of the pair")
        var settings = server.receiver.configuration
        settings.dedupWindow = 500
        settings.maxBodyBytes = 100
        #expect(server.receiver.reload(settings) == [], "nothing bound at start changed")
        try await pair(40_000, job: "k")
        #expect(try await server.metric("tributary_remote_write_samples_deduplicated_total") == 1, "0.5 s windows: both kept")
        #expect(try await server.metric("tributary_remote_write_samples_stored_total") == 3)
        let big = ReceiverTests.body([ReceiverTests.series(["__name__": "m", "job": "j", "pad": (0..<6).map { _ in UUID().uuidString }.joined()], [(50_000, 1)])])
        let (status, _, _) = try await server.write(big)
        #expect(status == 413, "the reloaded body limit applies")
        settings.port = 1
        settings.remoteWrites = []
        settings.head.outOfOrderWindow = 60_000
        #expect(server.receiver.reload(settings) == ["listen", "storage"])
        settings.slowQueryThreshold = 1
        #expect(server.receiver.reload(settings) == ["listen", "storage", "query"], "query settings are bound at start")
        await server.stop()
    }
}
