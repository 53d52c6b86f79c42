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

    /// Sample values as Prometheus writes them (``FloatText/plain(_:)``).
    static func value(_ v: Double) -> String { FloatText.plain(v) }
}
