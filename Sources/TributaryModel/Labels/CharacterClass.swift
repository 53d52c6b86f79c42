/// Byte classes for label and metric names, by table lookup.
public enum CharacterClass {
    // Bit 0: may start a label name; bit 1: may continue one; bit 2: may start a metric name;
    // bit 3: may continue one.
    @usableFromInline
    static let table: [UInt8] = {
        var t = [UInt8](repeating: 0, count: 256)
        for c in UInt8(ascii: "a")...UInt8(ascii: "z") { t[Int(c)] = 0b1111 }
        for c in UInt8(ascii: "A")...UInt8(ascii: "Z") { t[Int(c)] = 0b1111 }
        t[Int(UInt8(ascii: "_"))] = 0b1111
        for c in UInt8(ascii: "0")...UInt8(ascii: "9") { t[Int(c)] = 0b1010 }
        t[Int(UInt8(ascii: ":"))] = 0b1100
        return t
    }()

    @inlinable
    static func matches(_ bytes: UnsafeRawBufferPointer, first: UInt8, rest: UInt8) -> Bool {
        guard let firstByte = bytes.first else { return false }
        return table.withUnsafeBufferPointer { t in
            guard t[Int(firstByte)] & first != 0 else { return false }
            var i = 1
            while i < bytes.count {
                if t[Int(bytes[i])] & rest == 0 { return false }
                i += 1
            }
            return true
        }
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
