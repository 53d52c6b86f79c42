import Foundation
import Testing

@testable import TributaryReceiver

/// The results cache's default size comes from the memory the process may use.
@Suite struct MachineMemoryTests {
    @Test func memTotalIsReadInBytes() {
        let meminfo = "MemTotal:       24683784 kB\nMemFree:        21923000 kB\n"
        #expect(MachineMemory.memTotal(meminfo: meminfo) == 24_683_784 * 1024)
        #expect(MachineMemory.memTotal(meminfo: "MemFree: 5 kB\n") == nil)
        #expect(MachineMemory.memTotal(meminfo: "MemTotal: lots kB\n") == nil)
    }

    /// v2's `max` and v1's near-`Int64.max` mean no limit; a number is one.
    @Test func cgroupLimitsAreReadOrIgnored() {
        #expect(MachineMemory.cgroupLimit("2147483648\n") == 2_147_483_648)
        #expect(MachineMemory.cgroupLimit("max\n") == nil)
        #expect(MachineMemory.cgroupLimit("9223372036854771712\n") == nil)
        #expect(MachineMemory.cgroupLimit("") == nil)
    }

    /// The process's own groups, v2 and v1, as /proc/self/cgroup names them.
    @Test func cgroupLimitFilesFollowTheProcessesGroup() {
        #expect(MachineMemory.limitFiles(cgroup: "0::/system.slice/x.service\n") == ["/sys/fs/cgroup/system.slice/x.service/memory.max"])
        #expect(MachineMemory.limitFiles(cgroup: "0::/\n") == ["/sys/fs/cgroup/memory.max"])
        #expect(
            MachineMemory.limitFiles(cgroup: "5:cpu,cpuacct:/a\n4:memory:/process_api/ab12\n0::/\n")
                == ["/sys/fs/cgroup/memory/process_api/ab12/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max"])
        #expect(MachineMemory.limitFiles(cgroup: "garbage\n4:memory:relative\n") == [])
    }

    /// The lowest of the machine's memory and the limits that apply: the process's own
    /// group's, and the root's.
    @Test func theLowestLimitWins() {
        let meminfo = "MemTotal: 25165824 kB\n"  // 24 GiB
        func bytes(_ files: [String: String]) -> Int? { MachineMemory.bytes(reading: { files[$0] }) }
        #expect(bytes(["/proc/meminfo": meminfo]) == 24 << 30)
        #expect(bytes(["/proc/meminfo": meminfo, "/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/memory.max": "max\n"]) == 24 << 30)
        #expect(
            bytes(["/proc/meminfo": meminfo, "/proc/self/cgroup": "0::/a.slice\n", "/sys/fs/cgroup/a.slice/memory.max": "2147483648\n"]) == 2 << 30)
        let v1: [String: String] = [
            "/proc/meminfo": meminfo, "/proc/self/cgroup": "4:memory:/x\n", "/sys/fs/cgroup/memory/x/memory.limit_in_bytes": "9223372036854771712\n",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824\n"
        ]
        #expect(bytes(v1) == 1 << 30)
        #expect(bytes(["/sys/fs/cgroup/memory.max": "536870912\n"]) == 512 << 20)
        #expect(bytes([:]) == nil)
    }

    /// This machine's memory is read (the test runs on Linux), and is what sizes the default.
    @Test func thisMachinesMemoryIsKnown() throws {
        let bytes = try #require(MachineMemory.bytes())
        #expect(bytes > 256 << 20)
        let meminfo = try String(contentsOfFile: "/proc/meminfo", encoding: .utf8)
        #expect(bytes <= (MachineMemory.memTotal(meminfo: meminfo) ?? 0))
    }

    /// A 32nd of memory at 60 bytes a point, at least 100k points; 2M when memory is unknown.
    @Test func theDefaultSizeFollowsMemory() {
        #expect(ResultsCache.defaultMaxPoints(memory: 24 << 30) == 11_184_810)
        #expect(ResultsCache.defaultMaxPoints(memory: 2 << 30) == 932_067)
        #expect(ResultsCache.defaultMaxPoints(memory: 64 << 20) == 100_000)
        #expect(ResultsCache.defaultMaxPoints(memory: nil) == 2_000_000)
    }

    /// `results_cache_max_points` 0 (the default) sizes the cache from memory; a number is
    /// taken as it is.
    @Test func theReceiverUsesTheDefaultUnlessConfigured() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-cachesize-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        var c = ReceiverConfiguration()
        #expect(c.queryResultsCacheMaxPoints == 0)
        c.dataDirectory = base + "/sized"
        let sized = try Receiver(configuration: c)
        #expect(sized.resultsCache?.maxPoints == ResultsCache.defaultMaxPoints(memory: MachineMemory.bytes()))
        c.dataDirectory = base + "/fixed"
        c.queryResultsCacheMaxPoints = 1234
        let fixed = try Receiver(configuration: c)
        #expect(fixed.resultsCache?.maxPoints == 1234)
    }
}
