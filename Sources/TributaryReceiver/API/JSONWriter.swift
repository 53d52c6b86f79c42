import TributaryModel

/// Builds Prometheus-shaped JSON by hand, as bytes: values and timestamps are formatted as
/// Prometheus formats them (`"1.5"`, `"NaN"`, `"+Inf"`; times as float seconds).
struct JSONWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }

    mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for u in s.utf8 {
            switch u {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0..<0x20:
                raw("\\u00")
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(hex[Int(u >> 4)])
                bytes.append(hex[Int(u & 0xF)])
            default: bytes.append(u)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func labels(_ labels: Labels) {
        raw("{")
        var first = true
        for (name, value) in labels.pairs {
            if !first { raw(",") }
            first = false
            string(name)
            raw(":")
            string(value)
        }
        raw("}")
    }

    /// `[<seconds>,"<value>"]`
    mutating func point(_ t: Int64, _ v: Double) {
        raw("[")
        raw(Self.seconds(t))
        raw(",\"")
        raw(Self.value(v))
        raw("\"]")
    }

    /// Milliseconds as seconds with up to three decimals, as Prometheus writes timestamps.
    static func seconds(_ ms: Int64) -> String {
        let negative = ms < 0
        let m = ms.magnitude
        var s = String(m / 1000)
        let frac = m % 1000
        if frac != 0 {
            var f = String(frac)
            while f.count < 3 { f = "0" + f }
            while f.hasSuffix("0") { f.removeLast() }
            s += "." + f
        }
        return negative ? "-" + s : s
    }

    /// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest digits, never an exponent.
    static func value(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v == .infinity { return "+Inf" }
        if v == -.infinity { return "-Inf" }
        let s = "\(v)"
        guard let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) else {
            return s.hasSuffix(".0") ? String(s.dropLast(2)) : s
        }
        let mantissa = String(s[..<e])
        guard let exponent = Int(s[s.index(after: e)...]) else { return s }
        let negative = mantissa.hasPrefix("-")
        let digitsPart = negative ? String(mantissa.dropFirst()) : mantissa
        let pieces = digitsPart.split(separator: ".", omittingEmptySubsequences: false)
        let intDigits = String(pieces[0])
        let fracDigits = pieces.count > 1 ? String(pieces[1]) : ""
        var digits = intDigits + fracDigits
        var point = intDigits.count + exponent
        if point <= 0 {
            digits = String(repeating: "0", count: -point + 1) + digits
            point = 1
        } else if point > digits.count {
            digits += String(repeating: "0", count: point - digits.count)
        }
        var out = String(digits.prefix(point))
        var rest = String(digits.dropFirst(point))
        while rest.hasSuffix("0") { rest.removeLast() }
        if !rest.isEmpty { out += "." + rest }
        return (negative ? "-" : "") + out
    }
}
