import Foundation
import Logging
import Synchronization

/// At most `perSecond` lines a second through `logger`; the lines held back are counted and
/// reported on the next line that gets through, so a flood of bad requests cannot flood the log.
package final class RateLimitedLog: Sendable {
    struct State {
        var second: Int = 0
        var emitted = 0
        var suppressed = 0
    }

    let logger: Logger
    let perSecond: Int
    let state = Mutex(State())

    package init(logger: Logger, perSecond: Int) {
        self.logger = logger
        self.perSecond = perSecond
    }

    package func warning(_ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata) {
        let now = Int(Date().timeIntervalSince1970)
        let suppressed: Int? = state.withLock { s in
            if s.second != now { s.second = now; s.emitted = 0 }
            guard s.emitted < perSecond else { s.suppressed += 1; return nil }
            s.emitted += 1
            defer { s.suppressed = 0 }
            return s.suppressed
        }
        guard let suppressed else { return }
        var fields = metadata()
        if suppressed > 0 { fields["suppressed_before"] = "\(suppressed)" }
        logger.warning(message(), metadata: fields)
    }
}
