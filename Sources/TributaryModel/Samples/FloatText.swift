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
        // Otherwise Swift's shortest round-trip digits ("4.2e-06", "0.125"), which `write(to:)`
        // hands over as ASCII bytes (no String), moved around the decimal point.
        var text = ShortestDigits()
        v.write(to: &text)
        var digits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        let length = text.count
        withUnsafeBytes(of: &text.bytes) { text in
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
        }
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
