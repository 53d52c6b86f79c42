#if canImport(Glibc)
    import Glibc
#endif

/// A pthread mutex guarding a value.
///
/// Why not `Synchronization.Mutex`: on Linux it is a priority-inheritance futex, and under
/// concurrent remote-write requests the kernel's `rt_mutex_slowlock` took 9% of the receiver's
/// CPU (perf, tributary-bench ingest); a plain pthread mutex spins briefly before sleeping.
final class Lock<State>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// Not checked for exclusive access at run time: the mutex makes every access exclusive
    /// (a nested `withLock` on the same lock deadlocks before it could overlap). Checked, each
    /// `withLock` paid a `swift_beginAccess`/`swift_endAccess` pair (~90 instructions; per
    /// sample appended and per series a query reads, callgrind).
    @exclusivity(unchecked) private var state: State

    init(_ state: State) {
        self.state = state
        mutex = .allocate(capacity: 1)
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
        pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always)
    func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }
}
