import Foundation
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Gives back to the system the heap that glibc keeps after large frees (`malloc_trim`).
///
/// Why: a large query frees what it held when it is done, but glibc keeps that memory in its
/// arenas for later allocations and returns only what lies at the top of one. A cold 6 h
/// filesystem panel over 100k series holds ~10M points while it is evaluated: five of them in
/// a row left ~120 MB more resident after they finished, and a bench run's queries left
/// 170–240 MB that a `malloc_trim` gave back at once (measured with the process held,
/// Docs/memory.md).
/// Until the next maintenance run trimmed it (a minute), an operator saw that as the process's
/// own memory.
enum HeapTrim {
    /// glibc's `malloc_trim`, when the C library has it (looked up: not in Swift's Glibc module).
    private static let function: (@convention(c) (Int) -> Int32)? = {
        #if canImport(Glibc)
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
            return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        #else
            return nil
        #endif
    }()

    /// Trims every arena now, on the calling thread (it waits for each arena's lock in turn).
    static func now() {
        _ = function?(0)
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
