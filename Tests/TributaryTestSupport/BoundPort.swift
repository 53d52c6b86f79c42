import Synchronization

/// The port an in-process server reported once it was bound (its `onServerRunning` wrote it
/// into `bound`), waited for up to 4 s; `name` says which server did not start.
public func boundPort(_ bound: borrowing Mutex<Int?>, _ name: String) async throws -> Int {
    for _ in 0..<200 {
        if let port = bound.withLock({ $0 }) { return port }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw TestFailure("\(name) did not start")
}
