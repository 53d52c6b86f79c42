/// The two remote-write message types, told apart by `Content-Type`.
public enum RemoteWriteVersion: Sendable, Equatable {
    /// `prometheus.WriteRequest` (remote write 1.0).
    case v1
    /// `io.prometheus.write.v2.Request` (remote write 2.0).
    case v2

    /// The version a `Content-Type` header asks for; nil when it is not a remote-write type
    /// (the receiver answers 415). A bare `application/x-protobuf` means 1.0.
    public init?(contentType: String) {
        let parts = contentType.split(separator: ";").map { $0.trimmingSpaces.lowercased() }
        guard parts.first == "application/x-protobuf" else { return nil }
        var proto: String?
        for parameter in parts.dropFirst() {
            let kv = parameter.split(separator: "=", maxSplits: 1).map { String($0).trimmingSpaces }
            if kv.count == 2, kv[0] == "proto" { proto = kv[1].trimmingCharacters(quote: "\"") }
        }
        switch proto {
        case nil, "prometheus.writerequest": self = .v1
        case "io.prometheus.write.v2.request": self = .v2
        default: return nil
        }
    }

    /// The `Content-Type` a sender uses for this version.
    public var contentType: String {
        switch self {
        case .v1: "application/x-protobuf"
        case .v2: "application/x-protobuf;proto=io.prometheus.write.v2.Request"
        }
    }

    /// The `X-Prometheus-Remote-Write-Version` header value.
    public var versionHeader: String {
        switch self {
        case .v1: "0.1.0"
        case .v2: "2.0.0"
        }
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
    var trimmingSpaces: String {
        let s = Substring(self), u = s.utf8
        guard let first = u.firstIndex(where: { $0 != 32 && $0 != 9 }), let last = u.lastIndex(where: { $0 != 32 && $0 != 9 }) else { return "" }
        return String(s[first...last])
    }

    func trimmingCharacters(quote: Character) -> String {
        var s = Substring(self)
        if s.first == quote { s = s.dropFirst() }
        if s.last == quote { s = s.dropLast() }
        return String(s)
    }
}
