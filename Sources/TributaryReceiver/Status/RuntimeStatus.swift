import Foundation
import Synchronization
import TributaryHTTPServer

extension Receiver {
    /// Records a configuration loaded at start or by a successful reload.
    public func configLoaded(yaml: String) {
        runtime.withLock { $0.configLoaded(yaml: yaml) }
    }

    /// Records a reload that failed (the running configuration stays).
    public func reloadFailed() {
        runtime.withLock { $0.reloadFailed() }
    }
}
