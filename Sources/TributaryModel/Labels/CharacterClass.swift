/// Byte classes for label and metric names, by table lookup.
public enum CharacterClass {
    // Class bits: 0 may start a label name, 1 may continue one, 2 may start a metric name,
    // 3 may continue one.
    @inlinable
    static func matches(_ bytes: UnsafeRawBufferPointer, first: UInt8, rest: UInt8) -> Bool {
        guard let firstByte = bytes.first else { return false }
        guard classes(of: firstByte) & first != 0 else { return false }
        var i = 1
        while i < bytes.count {
            if classes(of: bytes[i]) & rest == 0 { return false }
            i += 1
        }
        return true
    }

    /// The class bits of one byte, computed instead of looked up: reading the global table
    /// went through a lazy-initialisation check on every byte (perf: 4.5% of ingest).
    @inlinable @inline(__always)
    static func classes(of c: UInt8) -> UInt8 {
        let lower = c | 0x20
        if lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "z") { return 0b1111 }
        if c == UInt8(ascii: "_") { return 0b1111 }
        if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") { return 0b1010 }
        if c == UInt8(ascii: ":") { return 0b1100 }
        return 0
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`
    @inlinable
    public static func isLabelName(_ bytes: UnsafeRawBufferPointer) -> Bool {
        matches(bytes, first: 0b0001, rest: 0b0010)
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`
    @inlinable
    public static func isMetricName(_ bytes: UnsafeRawBufferPointer) -> Bool {
        matches(bytes, first: 0b0100, rest: 0b1000)
    }

    /// True when `name` is `__name__`.
    @inlinable
    public static func isMetricNameLabel(_ name: UnsafeRawBufferPointer) -> Bool {
        name.count == 8 && name.loadUnaligned(as: UInt64.self) == metricNameWord
    }

    @usableFromInline
    static let metricNameWord: UInt64 = {
        var word: UInt64 = 0
        for (i, byte) in "__name__".utf8.enumerated() { word |= UInt64(byte) << (8 * UInt64(i)) }
        return word
    }()
}
