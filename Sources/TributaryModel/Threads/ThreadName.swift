import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Names the calling thread as `top -H` and `perf` show it.
///
/// `Thread.current.name = ...` alone is not enough on Linux: Foundation passes the name to the
/// system only once the thread's creator has stored its handle, which a thread that names
/// itself as it starts can beat; it then kept its creator's name (`oot.default-qos`, from the
/// cooperative pool). The kernel's name is written directly too, through
/// `/proc/thread-self/comm` (the calling thread's; Linux keeps at most 15 bytes).
public func nameCurrentThread(_ name: String) {
    Thread.current.name = name
    #if os(Linux)
        let fd = open("/proc/thread-self/comm", O_WRONLY)
        guard fd >= 0 else { return }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    #endif
}
