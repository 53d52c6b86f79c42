import CMimalloc

#if canImport(Glibc)
    import Glibc
#endif

/// The process's memory allocator: mimalloc (Debian's libmimalloc2.0), linked into the
/// executable so that it serves `malloc` and `free` for all of the process, the Swift runtime
/// included, in place of glibc's.
///
/// Why: a query allocates and frees small arrays per series (each series' step columns, its
/// samples, its labels without the metric name), often on one thread and freed on another,
/// and glibc's malloc was a fifth to a quarter of such work (callgrind: `_int_malloc`,
/// `_int_free`, `malloc_consolidate`). With mimalloc, the 20k-series dashboard's warm
/// refreshes were 1.15x faster (geometric mean of nine range panels, the same build beside
/// itself on glibc in one `scripts/bench-query` run), cold ones 1.03x, with the same peak
/// memory (123 MiB against 120). It needs no code of ours: `malloc` resolves to the first
/// library that defines it, and mimalloc is linked before the C library.
enum Allocator {
    /// "mimalloc 2.0.9, decommit delay 1000 ms" when mimalloc serves `malloc`; "glibc malloc"
    /// when it does not (the library was not linked first): logged at start, so an operator
    /// can tell.
    static var name: String {
        guard servedByMimalloc else { return "glibc malloc" }
        let v = Int(mi_version())
        return "mimalloc \(v / 100).\(v / 10 % 10).\(v % 10), decommit delay \(mi_option_get(mi_option_decommit_delay)) ms"
    }

    private static var servedByMimalloc: Bool {
        guard let block = malloc(16) else { return false }
        defer { free(block) }
        return mi_is_in_heap_region(block)
    }

    /// How long mimalloc keeps pages freed before it gives them back to the system
    /// (`decommit_delay`; its own default is 25 ms). `MIMALLOC_DECOMMIT_DELAY` still decides
    /// when set.
    ///
    /// Why: a dashboard refresh allocates its answer's buffers (a 256 KiB chunk at a time, and
    /// the cached steps it appends) and frees them when sent; refreshed a few hundred
    /// milliseconds later, every page came back from the system zeroed, a page fault each.
    /// A warm refresh of the 940-series filesystem panel spent 7 % of its query threads' time
    /// in those faults. A query that held 1M points or more still has its memory given back
    /// within 2 s (``HeapTrim``).
    static let decommitDelayMilliseconds = 1000

    /// Sets mimalloc's options (before the first allocation that matters: at start).
    static func configure() {
        guard servedByMimalloc else { return }
        mi_option_set_default(mi_option_decommit_delay, decommitDelayMilliseconds)
    }
}
