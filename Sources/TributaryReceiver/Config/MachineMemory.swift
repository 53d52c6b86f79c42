import Foundation

/// The memory this process may use: the machine's (`MemTotal` in `/proc/meminfo`), or its
/// control group's limit when that is lower (cgroup v2 `memory.max`, v1
/// `memory.limit_in_bytes`), as VictoriaMetrics reads it to size its caches.
enum MachineMemory {
    /// Bytes, or nil where neither can be read (not Linux). `read` gives a file's text (nil
    /// when it cannot be read).
    static func bytes(reading read: (String) -> String? = { try? String(contentsOfFile: $0, encoding: .utf8) }) -> Int? {
        // The process's own groups, and the root ones (what a container sees as its own).
        let files = (read("/proc/self/cgroup").map(limitFiles) ?? []) + ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
        var candidates = files.compactMap { read($0).flatMap(cgroupLimit) }
        if let total = read("/proc/meminfo").flatMap(memTotal) { candidates.append(total) }
        return candidates.min()
    }

    /// The files that hold the memory limit of the groups `/proc/self/cgroup` names: v2's
    /// `memory.max` (the `0::` line), v1's `memory.limit_in_bytes` (the `memory` controller's).
    static func limitFiles(cgroup: String) -> [String] {
        cgroup.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, fields[2].hasPrefix("/"), !fields[2].contains("..") else { return nil }
            let path = fields[2] == "/" ? "" : String(fields[2])
            if fields[0] == "0" && fields[1].isEmpty { return "/sys/fs/cgroup\(path)/memory.max" }
            if fields[1].split(separator: ",").contains("memory") { return "/sys/fs/cgroup/memory\(path)/memory.limit_in_bytes" }
            return nil
        }
    }

    /// `MemTotal:  24684720 kB` in bytes.
    static func memTotal(meminfo: String) -> Int? {
        for line in meminfo.split(separator: "\n") where line.hasPrefix("MemTotal:") {
            let fields = line.split(separator: " ")
            guard fields.count >= 2, let kib = Int(fields[1]), kib > 0 else { return nil }
            return kib.multipliedReportingOverflow(by: 1024).overflow ? nil : kib * 1024
        }
        return nil
    }

    /// A cgroup memory limit file's bytes; nil for none (`max`, or v1's near-`Int64.max`
    /// "unlimited", or anything unreadable).
    static func cgroupLimit(_ text: String) -> Int? {
        guard let bytes = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes > 0, bytes < 1 << 60 else { return nil }
        return bytes
    }
}
