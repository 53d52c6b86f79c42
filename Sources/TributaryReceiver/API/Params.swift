import Foundation
import TributaryModel
import TributaryPromQL

/// Request parameters from the query string and a form body, parsed as Go's `url.ParseQuery`
/// does (`+` is a space, `%XX` escapes), with the repeated keys Prometheus uses (`match[]`).
struct Params {
    private(set) var values: [String: [String]] = [:]

    init() {}

    init(query: String?, form: String?) {
        for source in [query, form].compactMap({ $0 }) {
            for pair in source.split(separator: "&", omittingEmptySubsequences: true) {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = Self.decode(kv[0])
                let value = kv.count > 1 ? Self.decode(kv[1]) : ""
                values[key, default: []].append(value)
            }
        }
    }

    /// `+` as a space and `%XX` escapes decoded, over the bytes: Foundation's replacing and
    /// percent decoding were a twentieth of a small query's CPU. A malformed escape, or
    /// escapes that do not decode to UTF-8, leave the text as it came (with `+` a space).
    static func decode(_ s: Substring) -> String {
        var text = s
        return text.withUTF8 { bytes in
            guard bytes.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "%") }) else { return String(decoding: bytes, as: UTF8.self) }
            let plain = { String(decoding: bytes.map { $0 == UInt8(ascii: "+") ? UInt8(ascii: " ") : $0 }, as: UTF8.self) }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var i = 0
            while i < bytes.count {
                let b = bytes[i]
                if b == UInt8(ascii: "+") {
                    out.append(UInt8(ascii: " "))
                } else if b == UInt8(ascii: "%") {
                    guard i + 2 < bytes.count, let high = hex(bytes[i + 1]), let low = hex(bytes[i + 2]) else { return plain() }
                    out.append(high << 4 | low)
                    i += 2
                } else {
                    out.append(b)
                }
                i += 1
            }
            return String(validating: out, as: UTF8.self) ?? plain()
        }
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    func first(_ key: String) -> String? { values[key]?.first }
    func all(_ key: String) -> [String] { values[key] ?? [] }

    /// A time as RFC 3339 or float seconds, in milliseconds; `default` when absent.
    func time(_ key: String, default fallback: Int64) throws(APIError) -> Int64 {
        guard let text = first(key), !text.isEmpty else { return fallback }
        if let seconds = Double(text), seconds.isFinite {
            // Grafana's exemplar probe sends milliseconds; anything representable is accepted.
            let ms = (seconds * 1000).rounded()
            guard abs(ms) < 9.2e18 else { throw APIError(.badData, "invalid parameter \"\(key)\": cannot parse \"\(text)\" to a valid timestamp") }
            return Int64(ms)
        }
        if let date = Self.rfc3339(text) { return Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        throw APIError(.badData, "invalid parameter \"\(key)\": cannot parse \"\(text)\" to a valid timestamp")
    }

    /// A duration as float seconds or a Prometheus duration, in milliseconds.
    func duration(_ key: String) throws(APIError) -> Int64? {
        guard let text = first(key), !text.isEmpty else { return nil }
        if let seconds = Double(text), seconds.isFinite, abs(seconds) < 9.2e15 { return Int64((seconds * 1000).rounded()) }
        if let ms = PrometheusDuration.parse(text) { return ms }
        throw APIError(.badData, "invalid parameter \"\(key)\": cannot parse \"\(text)\" to a valid duration")
    }

    static func rfc3339(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)
    }
}
