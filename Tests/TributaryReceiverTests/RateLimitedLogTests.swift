import Foundation
import Logging
import Synchronization
import Testing
import TributaryRemoteWrite

@testable import TributaryReceiver

/// A flood of bad requests gives at most `perSecond` log lines a second; the lines held back
/// are counted on the next line that gets through.
@Suite struct RateLimitedLogTests {
    final class Capture: @unchecked Sendable {
        let lines = Mutex<[(String, Logger.Metadata)]>([])
    }

    struct Handler: LogHandler {
        let capture: Capture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            capture.lines.withLock { $0.append((event.message.description, event.metadata ?? [:])) }
        }
    }

    @Test func floodIsCappedAndCounted() async throws {
        let capture = Capture()
        let log = RateLimitedLog(logger: Logger(label: "t") { _ in Handler(capture: capture) }, perSecond: 10)
        // Start at the beginning of a second so the burst falls in one.
        try await Task.sleep(for: .milliseconds(1000 - Int(Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 1) * 1000) + 10))
        for i in 0..<500 { log.warning("remote write refused", metadata: ["i": "\(i)"]) }
        #expect(capture.lines.withLock { $0.count } == 10)
        try await Task.sleep(for: .milliseconds(1100))
        log.warning("remote write refused", metadata: ["i": "last"])
        let last = capture.lines.withLock { $0.last }
        #expect(last?.1["suppressed_before"] == "490")
        #expect(capture.lines.withLock { $0.count } == 11)
    }
}
