import Foundation
import Synchronization

/// What the receiver shows of its process at `/api/v1/status/{runtimeinfo,flags,config}` and on
/// the status page: set by the command that runs it (the flags in effect, the configuration
/// file as loaded, the outcome of reloads).
public struct RuntimeStatus: Sendable {
    public var startTime = Date()
    /// Flag name (Prometheus's spelling, no dashes) → the value in effect.
    public var flags: [String: String] = [:]
    /// The configuration file's text as last loaded ("" when started without one).
    public var configYAML = ""
    public var lastConfigTime = Date()
    public var reloadConfigSuccess = true

    public init() {}
}

extension Receiver {
    /// Records a configuration loaded at start or by a successful reload.
    public func configLoaded(yaml: String) {
        runtime.withLock {
            $0.configYAML = yaml
            $0.lastConfigTime = Date()
            $0.reloadConfigSuccess = true
        }
    }

    /// Records a reload that failed (the running configuration stays).
    public func reloadFailed() {
        runtime.withLock { $0.reloadConfigSuccess = false }
    }
}
