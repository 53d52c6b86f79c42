import NIOCore

/// Runs a task's jobs on one NIO event loop. A connection's task that prefers its channel's
/// loop (``GuardedHTTP1Channel``) reads each request and writes each answer on the thread that
/// does the socket's I/O: no hop to the cooperative pool and back per request. Work that may
/// block or take long (a remote-write body decoded and appended, a query) leaves the loop for
/// the pool or a query thread, and its result comes back with one hand-off.
public final class EventLoopExecutor: TaskExecutor {
    public let eventLoop: any EventLoop

    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // On the loop itself this only queues the job (no wake-up); from another thread it
        // wakes the loop once.
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
