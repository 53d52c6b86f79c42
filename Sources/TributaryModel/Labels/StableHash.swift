/// A fast 64-bit hash over bytes that is the same in every process and on every run, unlike
/// `Hasher`, which is seeded per process. Used for shard and stripe selection and for anything
/// persisted. Reads eight bytes per step (multiply, xor-shift) and ends with SplitMix64's
/// finaliser, which is enough spread for table selection; it is not a
/// cryptographic hash.
public enum StableHash {
    @inlinable
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        // One multiply and one shift per eight bytes, then a full mix: labels are ~100 bytes
        // hashed once per sample on ingest (callgrind: 9% of append with a mix per word).
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ (UInt64(bytes.count) &* 0xFF51_AFD7_ED55_8CCD)
        var i = 0
        let n = bytes.count
        while i + 8 <= n {
            h = (h ^ bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(bytes[i]) << shift
            shift += 8
            i += 1
        }
        return mix(h ^ tail)
    }

    @inlinable
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
