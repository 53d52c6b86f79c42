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

    static func decode(_ s: Substring) -> String {
        let replaced = s.replacingOccurrences(of: "+", with: " ")
        return replaced.removingPercentEncoding ?? replaced
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
