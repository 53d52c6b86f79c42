import CPrompb

/// Typed allocation from a protobuf-c arena, for building C messages to pack.
/// Not thread-safe; memory lives until the owner resets the arena.
struct ArenaAllocator {
    let arena: UnsafeMutablePointer<TributaryArena>

    static func make() -> UnsafeMutablePointer<TributaryArena> {
        let arena = UnsafeMutablePointer<TributaryArena>.allocate(capacity: 1)
        _ = tributary_arena_init(arena, 1 << 16, Int.max)
        return arena
    }

    func allocate<T>(_: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let bytes = Swift.max(1, MemoryLayout<T>.stride * count)
        guard let raw = tributary_arena_alloc(arena, bytes) else {
            // Only reachable when the process is out of memory: the limit is Int.max.
            fatalError("out of memory while encoding a remote-write request (\(bytes) bytes)")
        }
        return raw.bindMemory(to: T.self, capacity: Swift.max(count, 1))
    }

    /// A NUL-terminated copy of `bytes` in the arena.
    func cString<C: Collection>(_ bytes: C) -> UnsafeMutablePointer<CChar> where C.Element == UInt8 {
        let p = allocate(CChar.self, count: bytes.count + 1)
        var i = 0
        for b in bytes {
            p[i] = CChar(bitPattern: b)
            i += 1
        }
        p[i] = 0
        return p
    }
}
