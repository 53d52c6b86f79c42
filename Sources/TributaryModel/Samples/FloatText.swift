/// Numbers as Prometheus writes them in text.
public enum FloatText {
    /// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest digits, never an exponent.
    public static func plain(_ v: Double) -> String {
        var out: [UInt8] = []
        appendPlain(v, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// ``plain(_:)`` appended to `out` as UTF-8 (the query API writes millions of these).
    public static func appendPlain(_ v: Double, to out: inout [UInt8]) {
        if v.isNaN { return out.append(contentsOf: "NaN".utf8) }
        if v == .infinity { return out.append(contentsOf: "+Inf".utf8) }
        if v == -.infinity { return out.append(contentsOf: "-Inf".utf8) }
        // Whole numbers below 2^53 (counters, bytes, counts): their digits directly.
        if v == v.rounded(.towardZero), v.magnitude < 9_007_199_254_740_992 {
            if v.sign == .minus { out.append(UInt8(ascii: "-")) }  // Go writes -0 too
            appendDigits(UInt64(v.magnitude), to: &out)
            return
        }
        // Otherwise Swift's shortest round-trip digits, moved around the decimal point.
        var digits: [UInt8] = []
        digits.reserveCapacity(24)
        var exponent = 0
        var point = -1
        var inExponent = false
        var exponentNegative = false
        var negative = false
        for c in v.description.utf8 {
            switch c {
            case UInt8(ascii: "-"):
                if inExponent { exponentNegative = true } else { negative = true }
            case UInt8(ascii: "+"):
                break
            case UInt8(ascii: "e"), UInt8(ascii: "E"):
                inExponent = true
            case UInt8(ascii: "."):
                point = digits.count
            default:
                if inExponent {
                    exponent = exponent * 10 + Int(c &- UInt8(ascii: "0"))
                } else {
                    digits.append(c)
                }
            }
        }
        if point < 0 { point = digits.count }
        point += exponentNegative ? -exponent : exponent
        // Leading zeros of the digits do not count ("0.001" has digits "0001").
        var first = 0
        while first < digits.count - 1, digits[first] == UInt8(ascii: "0") {
            first += 1
            point -= 1
        }
        var last = digits.count
        while last > first + 1, digits[last - 1] == UInt8(ascii: "0"), last > first + point { last -= 1 }
        if negative { out.append(UInt8(ascii: "-")) }
        if point <= 0 {
            out.append(UInt8(ascii: "0"))
            out.append(UInt8(ascii: "."))
            for _ in 0..<(-point) { out.append(UInt8(ascii: "0")) }
            out.append(contentsOf: digits[first..<last])
            return
        }
        let whole = first + point
        if whole >= last {
            out.append(contentsOf: digits[first..<last])
            for _ in 0..<(whole - last) { out.append(UInt8(ascii: "0")) }
            return
        }
        out.append(contentsOf: digits[first..<whole])
        out.append(UInt8(ascii: "."))
        out.append(contentsOf: digits[whole..<last])
    }

    /// The decimal digits of `n`.
    public static func appendDigits(_ n: UInt64, to out: inout [UInt8]) {
        if n < 10 { return out.append(UInt8(ascii: "0") &+ UInt8(n)) }
        var buffer: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: UInt64.max has 20 digits
        withUnsafeMutableBytes(of: &buffer) { b in
            var i = b.count
            var x = n
            while x > 0 {
                i -= 1
                b[i] = UInt8(ascii: "0") &+ UInt8(x % 10)
                x /= 10
            }
            out.append(contentsOf: b[i...])
        }
    }
}
