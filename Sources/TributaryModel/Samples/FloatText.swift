/// Numbers as Prometheus writes them in text.
public enum FloatText {
    /// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest digits, never an exponent.
    public static func plain(_ v: Double) -> String {
        var out: [UInt8] = []
        appendPlain(v, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The most bytes ``writePlain(_:to:)`` writes: 1.7976931348623157e308 without an
    /// exponent is 309 digits; 5e-324 is "0.", 323 zeros and a digit.
    public static let maxPlainLength = 336

    /// ``plain(_:)`` appended to `out` as UTF-8 (the query API writes millions of these).
    public static func appendPlain(_ v: Double, to out: inout [UInt8]) {
        out.appendWritten(atMost: maxPlainLength) { writePlain(v, to: $0) }
    }

    /// ``plain(_:)`` written at `p` (room for ``maxPlainLength`` bytes); returns the count.
    /// One append of the finished text costs the caller's array one uniqueness and capacity
    /// check instead of one per character (perf: a fifth of a large range answer's time).
    public static func writePlain(_ v: Double, to p: UnsafeMutablePointer<UInt8>) -> Int {
        if v.isNaN { return write("NaN", to: p) }
        if v == .infinity { return write("+Inf", to: p) }
        if v == -.infinity { return write("-Inf", to: p) }
        // Whole numbers below 2^53 (counters, bytes, counts): their digits directly.
        if v == v.rounded(.towardZero), v.magnitude < 9_007_199_254_740_992 {
            var n = 0
            if v.sign == .minus {  // Go writes -0 too
                p[0] = UInt8(ascii: "-")
                n = 1
            }
            return n + writeDigits(UInt64(v.magnitude), to: p + n)
        }
        // Otherwise Swift's shortest round-trip digits ("4.2e-06", "0.125"), which `write(to:)`
        // hands over as ASCII bytes (no String), moved around the decimal point.
        var text = ShortestDigits()
        v.write(to: &text)
        var digits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        let length = text.count
        return withUnsafeBytes(of: &text.bytes) { text in
            withUnsafeMutableBytes(of: &digits) { digits in
                var count = 0
                var exponent = 0
                var point = -1
                var inExponent = false
                var exponentNegative = false
                var negative = false
                for i in 0..<min(length, text.count) {
                    let c = text[i]
                    switch c {
                    case UInt8(ascii: "-"):
                        if inExponent { exponentNegative = true } else { negative = true }
                    case UInt8(ascii: "+"):
                        break
                    case UInt8(ascii: "e"), UInt8(ascii: "E"):
                        inExponent = true
                    case UInt8(ascii: "."):
                        point = count
                    default:
                        if inExponent {
                            exponent = exponent * 10 + Int(c &- UInt8(ascii: "0"))
                        } else if count < digits.count {
                            digits[count] = c
                            count += 1
                        }
                    }
                }
                if point < 0 { point = count }
                point += exponentNegative ? -exponent : exponent
                // Leading zeros of the digits do not count ("0.001" has digits "0001").
                var first = 0
                while first < count - 1, digits[first] == UInt8(ascii: "0") {
                    first += 1
                    point -= 1
                }
                var last = count
                while last > first + 1, digits[last - 1] == UInt8(ascii: "0"), last > first + point { last -= 1 }
                var n = 0
                func put(_ c: UInt8) {
                    p[n] = c
                    n += 1
                }
                func put(_ range: Range<Int>) {
                    for i in range { put(digits[i]) }
                }
                if negative { put(UInt8(ascii: "-")) }
                if point <= 0 {
                    put(UInt8(ascii: "0"))
                    put(UInt8(ascii: "."))
                    for _ in 0..<(-point) { put(UInt8(ascii: "0")) }
                    put(first..<last)
                    return n
                }
                let whole = first + point
                if whole >= last {
                    put(first..<last)
                    for _ in 0..<(whole - last) { put(UInt8(ascii: "0")) }
                    return n
                }
                put(first..<whole)
                put(UInt8(ascii: "."))
                put(whole..<last)
                return n
            }
        }
    }

    /// The decimal digits of `n`.
    public static func appendDigits(_ n: UInt64, to out: inout [UInt8]) {
        if n < 10 { return out.append(UInt8(ascii: "0") &+ UInt8(n)) }
        out.appendWritten(atMost: 20) { writeDigits(n, to: $0) }
    }

    /// The decimal digits of `n` written at `p` (room for 20); returns the count. Two digits
    /// at a time from a table: a 10-digit timestamp took ten dependent divisions, and the
    /// digits of times and whole values were a tenth of a large answer's CPU.
    @inline(__always)
    public static func writeDigits(_ n: UInt64, to p: UnsafeMutablePointer<UInt8>) -> Int {
        var count = 1
        var limit: UInt64 = 10
        while count < 20, n >= limit {
            count += 1
            limit = limit &* 10
        }
        let pairs = digitPairs.utf8Start
        var x = n
        var i = count
        while x >= 100 {
            let r = Int(x % 100) &* 2
            x /= 100
            i -= 2
            p[i] = pairs[r]
            p[i + 1] = pairs[r + 1]
        }
        if x >= 10 {
            p[0] = pairs[Int(x) &* 2]
            p[1] = pairs[Int(x) &* 2 + 1]
        } else {
            p[0] = UInt8(ascii: "0") &+ UInt8(x)
        }
        return count
    }

    /// "00" to "99", each pair at twice its value.
    private static let digitPairs: StaticString = """
        00010203040506070809101112131415161718192021222324252627282930313233343536373839\
        40414243444546474849505152535455565758596061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899
        """

    private static func write(_ s: StaticString, to p: UnsafeMutablePointer<UInt8>) -> Int {
        p.update(from: s.utf8Start, count: s.utf8CodeUnitCount)
        return s.utf8CodeUnitCount
    }
}

/// Where `Double.write(to:)` puts its text: the standard library hands a number's ASCII bytes to
/// `_writeASCII`, so they land here without a String being made (the query API formats millions).
private struct ShortestDigits: TextOutputStream {
    var bytes: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    var count = 0

    mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) {
        for c in buffer { append(c) }
    }

    mutating func write(_ string: String) {
        for c in string.utf8 { append(c) }
    }

    private mutating func append(_ c: UInt8) {
        guard count < MemoryLayout.size(ofValue: bytes) else { return }
        withUnsafeMutableBytes(of: &bytes) { $0[count] = c }
        count += 1
    }
}
