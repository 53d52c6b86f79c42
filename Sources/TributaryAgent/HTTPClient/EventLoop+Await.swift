import NIOCore

extension EventLoopFuture where Value: Sendable {
    /// The future's value, resumed on the caller's executor. NIO's `get()` resumes on Swift's
    /// global executor, so a task living on an event loop would wake another thread and then
    /// this one again for every await.
    nonisolated(nonsending) func value() async throws -> Value {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<UnsafeTransfer<Value>, any Error>) in
            whenComplete { result in
                switch result {
                case .success(let value): continuation.resume(returning: UnsafeTransfer(value))
                case .failure(let error): continuation.resume(throwing: error)
                }
            }
        }.wrappedValue
    }
}

/// A value handed across a continuation whose two ends the caller knows to be safe.
struct UnsafeTransfer<Value>: @unchecked Sendable {
    var wrappedValue: Value
    init(_ value: Value) { wrappedValue = value }
}

/// An actor whose executor is one NIO event loop. A scrape loop runs on it, with its target's
/// connection on the same loop, so the timer, the request, the response and the ingest of a
/// scrape all happen on one thread (on Swift's global executor each scrape woke two others).
actor EventLoopHome {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    nonisolated var unownedExecutor: UnownedSerialExecutor {
        eventLoop.executor.asUnownedSerialExecutor()
    }

    /// How many bodies are running here.
    private(set) var running = 0

    /// Runs `body` on the loop until it returns.
    func run(_ body: nonisolated(nonsending) @Sendable () async -> Void) async {
        // Touching the actor's state keeps the hop onto the loop: Swift 6.3's optimiser drops
        // the hop into an actor method that only calls a nonsending function.
        running += 1
        await body()
        running -= 1
    }
}
