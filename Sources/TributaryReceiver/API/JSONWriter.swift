import TributaryModel
import TributaryWire

/// Builds Prometheus-shaped JSON by hand, as bytes: values and timestamps are formatted as
/// Prometheus formats them (`"1.5"`, `"NaN"`, `"+Inf"`; times as float seconds).
struct JSONWriter {
    var bytes: [UInt8] = []
    /// Set for an answer sent while it is written: ``boundary()`` hands it the bytes written so
    /// far once they fill a chunk; false back means the client is gone.
    var chunks: ((_ bytes: [UInt8]) -> Bool)?
    /// Set for an answer sent gzip-compressed while it is written: ``fragment(_:)`` hands it
    /// the bytes written so far and a part compressed earlier to follow them.
    var fragments: ((_ bytes: [UInt8], _ part: Precompressed) -> Bool)?
    static let chunkSize = 256 * 1024
    /// Set where plain bytes between fragments cost no compression (``FragmentBuilder``'s
    /// stored pieces): cached series sent in runs open with their opening kept compressed
    /// (``CachedFragments/opening(_:)``) instead of their labels written out.
    var cachedOpenings = false

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    /// Between two elements of a result: passes a full chunk on (and starts the next one empty).
    /// False when nothing more should be written (the client went away).
    mutating func boundary() -> Bool {
        guard let chunks, bytes.count >= Self.chunkSize else { return true }
        // The full buffer goes to the client; a new one of the same size takes its place.
        var full: [UInt8] = []
        full.reserveCapacity(bytes.capacity)
        swap(&full, &bytes)
        guard chunks(full) else {
            self.chunks = nil
            return false
        }
        return true
    }

    /// `fragment` (compressed JSON) in place of its bytes; only when ``fragments`` is set.
    /// False when nothing more should be written (the client went away).
    mutating func fragment(_ fragment: DeflateFragment) -> Bool {
        self.fragment(.fragment(fragment))
    }

    /// As ``fragment(_:)-(DeflateFragment)``, for any part compressed earlier.
    mutating func fragment(_ part: Precompressed) -> Bool {
        guard let fragments else { return false }
        // Handed over and taken back, so the buffer stays unique (a copy kept here would make
        // the next append allocate a new one at every fragment: `written` is consumed, as its
        // copy lived on to the `removeAll` below, which then allocated the writer's capacity
        // anew for each fragment of a refresh).
        var written: [UInt8] = []
        swap(&written, &bytes)
        let sent = fragments(written, part)
        bytes = consume written
        bytes.removeAll(keepingCapacity: true)
        guard sent else {
            self.fragments = nil
            chunks = nil
            return false
        }
        return true
    }

    mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }

    /// Opens one series of a matrix, up to its first point: `{"metric":{…},"values":[`.
    mutating func openSeries(_ labels: Labels, first: Bool) {
        if !first { raw(",") }
        raw("{\"metric\":")
        self.labels(labels)
        raw(",\"values\":[")
    }

    /// Closes the series ``openSeries(_:first:)`` opened. False when nothing more should be
    /// written (the client went away).
    mutating func closeSeries() -> Bool {
        raw("]}")
        return boundary()
    }

    mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for u in s.utf8 { escape(u) }
        bytes.append(UInt8(ascii: "\""))
    }

    /// One byte of a JSON string, escaped as needed.
    private mutating func escape(_ u: UInt8) {
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

    /// `{"name":"value",…}` from the flat label bytes (no `String` per label).
    mutating func labels(_ labels: Labels) {
        bytes.append(UInt8(ascii: "{"))
        var first = true
        labels.withView { view in
            view.forEach { name, value in
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                string(utf8: name)
                bytes.append(UInt8(ascii: ":"))
                string(utf8: value)
            }
        }
        bytes.append(UInt8(ascii: "}"))
    }

    /// A JSON string of UTF-8 bytes: appended at once when it is ASCII that needs no escaping;
    /// otherwise through `String` (invalid UTF-8 repaired as before) and escaped.
    mutating func string(utf8 text: UnsafeRawBufferPointer) {
        guard text.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) else {
            return string(String(decoding: text, as: UTF8.self))
        }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: text)
        bytes.append(UInt8(ascii: "\""))
    }

    /// `[<seconds>,"<value>"]`
    mutating func point(_ t: Int64, _ v: Double) { Self.appendPoint(t, v, to: &bytes) }

    /// `[<seconds>,"<value>"]` appended to `out`, written in place
    /// (``Swift/Array/appendWritten(atMost:_:)``).
    static func appendPoint(_ t: Int64, _ v: Double, to out: inout [UInt8]) {
        out.appendWritten(atMost: maxPointLength) { writePoint(t, v, to: $0) }
    }

    /// The most bytes ``writePoint(_:_:to:)`` writes.
    static let maxPointLength = FloatText.maxPlainLength + 32

    /// ``appendPoint(_:_:to:)`` written at `p` (room for ``maxPointLength`` bytes); returns the count.
    static func writePoint(_ t: Int64, _ v: Double, to p: UnsafeMutablePointer<UInt8>) -> Int {
        p[0] = UInt8(ascii: "[")
        var n = 1 + writeSeconds(t, to: p + 1)
        p[n] = UInt8(ascii: ",")
        p[n + 1] = UInt8(ascii: "\"")
        n += 2
        n += FloatText.writePlain(v, to: p + n)
        p[n] = UInt8(ascii: "\"")
        p[n + 1] = UInt8(ascii: "]")
        return n + 2
    }

    /// Milliseconds as seconds with up to three decimals, as Prometheus writes timestamps.
    mutating func seconds(_ ms: Int64) {
        bytes.appendWritten(atMost: 32) { Self.writeSeconds(ms, to: $0) }
    }

    /// ``seconds(_:)`` written at `p` (room for 26 bytes); returns the count.
    @inline(__always)
    static func writeSeconds(_ ms: Int64, to p: UnsafeMutablePointer<UInt8>) -> Int {
        var n = 0
        if ms < 0 {
            p[0] = UInt8(ascii: "-")
            n = 1
        }
        let m = ms.magnitude
        n += FloatText.writeDigits(m / 1000, to: p + n)
        var frac = m % 1000
        guard frac != 0 else { return n }
        p[n] = UInt8(ascii: ".")
        n += 1
        var divisor: UInt64 = 100
        while frac != 0 {
            p[n] = UInt8(ascii: "0") &+ UInt8(frac / divisor)
            n += 1
            frac %= divisor
            divisor /= 10
        }
        return n
    }
}
