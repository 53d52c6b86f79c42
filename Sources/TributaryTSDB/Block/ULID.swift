/// A block's name: a ULID (48-bit milliseconds, 80 random bits) in Crockford's base32, 26
/// characters, so names sort by creation time as Prometheus's do.
public struct ULID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let description: String

    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// A new ULID for `milliseconds` since the epoch.
    public init(milliseconds: UInt64) {
        var rng = SystemRandomNumberGenerator()
        // 128 bits: time in the top 48, randomness below.
        let high = milliseconds << 16 | UInt64(rng.next() as UInt16)
        let low: UInt64 = rng.next()
        var chars = [UInt8](repeating: 0, count: 26)
        // 26 characters × 5 bits = 130 bits: the first character holds the top 3 bits.
        for i in 0..<26 {
            let shift = (25 - i) * 5  // bit position of this character's lowest bit
            var v: UInt64 = 0
            for b in 0..<5 {
                let bit = shift + b
                guard bit < 128 else { continue }
                let set = bit >= 64 ? (high >> UInt64(bit - 64)) & 1 : (low >> UInt64(bit)) & 1
                v |= set << UInt64(b)
            }
            chars[i] = Self.alphabet[Int(v)]
        }
        description = String(decoding: chars, as: UTF8.self)
    }

    /// A ULID read from a block directory name; nil unless 26 base32 characters.
    public init?(_ text: String) {
        let upper = text.uppercased()
        guard upper.utf8.count == 26, upper.utf8.allSatisfy({ Self.alphabet.contains($0) }) else { return nil }
        guard let first = upper.utf8.first, first <= UInt8(ascii: "7") else { return nil }
        description = upper
    }

    /// The creation time in milliseconds.
    public var milliseconds: UInt64 {
        var x: UInt64 = 0
        for c in description.utf8.prefix(10) { x = x << 5 | UInt64(Self.alphabet.firstIndex(of: c) ?? 0) }
        return x
    }

    public static func < (a: ULID, b: ULID) -> Bool { a.description < b.description }
}
