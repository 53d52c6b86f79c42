import Foundation
import TributaryTSDB

extension Receiver {
    /// The TSDB admin API, as Prometheus's behind `--web.enable-admin-api`: `snapshot` is
    /// implemented; `delete_series` and `clean_tombstones` answer that they are not (tombstones
    /// are written empty and not read yet), rather than pretending to delete.
    func admin(_ action: String, query: String?) -> HTTPAnswer {
        guard configuration.adminAPI else {
            return Self.errorAnswer(APIError(.unavailable, "admin APIs disabled (start with --web.enable-admin-api)"))
        }
        let params = Params(query: query, form: nil)
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
        case "delete_series", "clean_tombstones":
            return Self.errorAnswer(APIError(.unavailable, "\(action) is not implemented yet: tombstones are written empty and not read"))
        default:
            return Self.errorAnswer(APIError(.notFound, "unknown admin endpoint /api/v1/admin/tsdb/\(action)"))
        }
    }
}
