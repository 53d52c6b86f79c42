import Foundation
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Gives back to the system the heap the allocator keeps after large frees: mimalloc's
/// `mi_collect` where mimalloc serves `malloc` (the executable links it, Allocator.swift),
/// else glibc's `malloc_trim`.
///
/// Why: a large query frees what it held when it is done, but glibc keeps that memory in its
/// arenas for later allocations and returns only what lies at the top of one. A cold 6 h
/// filesystem panel over 100k series holds ~10M points while it is evaluated: five of them in
/// a row left ~120 MB more resident after they finished, and a bench run's queries left
/// 170–240 MB that a `malloc_trim` gave back at once (measured with the process held,
/// Docs/memory.md).
/// Until the next maintenance run trimmed it (a minute), an operator saw that as the process's
/// own memory. mimalloc returns free pages by itself after a short delay; collecting forces it.
enum HeapTrim {
    /// The allocator's trim, looked up (neither is in Swift's Glibc module, and this module does
    /// not link mimalloc; a test process runs on glibc's): `mi_collect(true)` when mimalloc is
    /// in the process (it defines no `malloc_trim`, so that name would find glibc's, which
    /// would trim arenas nothing uses), else `malloc_trim(0)`.
    private static let function: (@Sendable () -> Void)? = {
        #if canImport(Glibc)
            if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mi_collect") {
                let collect = unsafeBitCast(symbol, to: (@convention(c) (Bool) -> Void).self)
                return { collect(true) }
            }
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
            let trim = unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
            return { _ = trim(0) }
        #else
            return nil
        #endif
    }()

    /// Trims the heap now, on the calling thread (with glibc it waits for each arena's lock in
    /// turn).
    static func now() {
        function?()
    }

    /// Peak points of a query (Prometheus's `peakSamples`) from which its end asks for a trim:
    /// 1M, tens of megabytes of columns and answer. Dashboards' refreshes from the results
    /// cache compute a few steps and stay far below; so do the 1 h panels of 20k series.
    static let afterPeakSamples = 1_000_000
}

/// Trims the heap (``HeapTrim``) shortly after a query that held many points asked for it
/// (``Receiver/heapTrimWanted``): looked at every `interval`, so a dashboard of large cold
/// panels trims once for all of them, not after each. Each trim runs on a thread of its own
/// (``onLowPriorityThread(named:_:)``): it may take milliseconds on a large heap.
public struct HeapTrimService: Service {
    let receiver: Receiver
    let interval: Duration
    let trim: @Sendable () -> Void

    public init(receiver: Receiver, interval: Duration = .seconds(2)) {
        self.init(receiver: receiver, interval: interval, trim: HeapTrim.now)
    }

    /// `trim`: what a trim does (for tests).
    init(receiver: Receiver, interval: Duration, trim: @escaping @Sendable () -> Void) {
        self.receiver = receiver
        self.interval = interval
        self.trim = trim
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard receiver.heapTrimWanted.exchange(false, ordering: .relaxed) else { continue }
                await onLowPriorityThread(named: "tributary-trim", trim)
            }
        }
    }
}
