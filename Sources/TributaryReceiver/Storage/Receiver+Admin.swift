import Foundation
import TributaryModel
import TributaryTSDB

extension Receiver {
    /// The TSDB admin API, as Prometheus's behind `--web.enable-admin-api`: `snapshot`,
    /// `delete_series` (`match[]`, `start`, `end` from the query string or a form body; 204)
    /// and `clean_tombstones` (204).
    func admin(_ action: String, query: String?, form: String?) -> HTTPAnswer {
        guard configuration.adminAPI else {
            return Self.errorAnswer(APIError(.unavailable, "admin APIs disabled (start with --web.enable-admin-api)"))
        }
        let params = Params(query: query, form: form)
        switch action {
        case "snapshot":
            let skipHead = ["true", "1"].contains(params.first("skip_head")?.lowercased() ?? "")
            let stamp = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC") ?? .current, formatOptions: [.withYear, .withMonth, .withDay, .withTime, .withTimeZone])
            let name = stamp.replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "") + "-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
            do {
                try db.snapshot(into: configuration.dataDirectory + "/snapshots/" + name, skipHead: skipHead)
            } catch {
                return Self.errorAnswer(APIError(.internal, "create snapshot: \(error.description)"))
            }
            var out = JSONWriter()
            out.raw("{\"status\":\"success\",\"data\":{\"name\":")
            out.string(name)
            out.raw("}}")
            return HTTPAnswer(status: 200, headers: [("Content-Type", "application/json")], body: out.bytes)
        case "delete_series":
            let sets: [[Matcher]]
            let start: Int64, end: Int64
            do throws(APIError) {
                sets = try matcherSets(params)
                guard !sets.isEmpty else { throw APIError(.badData, "no match[] parameter provided") }
                start = try params.time("start", default: .min)
                end = try params.time("end", default: .max)
            } catch {
                return Self.errorAnswer(error)
            }
            do {
                for matchers in sets { try db.delete(matchers, start: start, end: end) }
            } catch {
                return Self.errorAnswer(APIError(.internal, "delete series: \(error.description)"))
            }
            return HTTPAnswer(status: 204, headers: [], body: [])
        case "clean_tombstones":
            do {
                try db.cleanTombstones()
            } catch {
                return Self.errorAnswer(APIError(.internal, "clean tombstones: \(error.description)"))
            }
            return HTTPAnswer(status: 204, headers: [], body: [])
        default:
            return Self.errorAnswer(APIError(.notFound, "unknown admin endpoint /api/v1/admin/tsdb/\(action)"))
        }
    }
}
