import Foundation
import Synchronization

/// Loop detection for chained receivers. Every receiver has an id (random, kept in
/// `<data-dir>/receiver-id`). What it forwards carries `X-Tributary-Forwarded-By`: its own id
/// and the ids it has seen on writes it accepted in the last 15 minutes, i.e. every Tributary
/// receiver upstream of it. A receiver that finds its own id there would store data it
/// forwarded itself: a loop, refused with 400 (a sender does not retry it) and counted.
///
/// A receiver in between that is not Tributary (VictoriaMetrics, Prometheus) drops the header,
/// so a loop through one is not seen.
public final class ForwardingPath: Sendable {
    public static let header = "X-Tributary-Forwarded-By"
    /// How long an upstream id counts after it was last seen.
    static let memory: Int64 = 15 * 60_000

    public let id: String
    private let seen = Mutex<[String: Int64]>([:])

    /// The id stored in `directory/receiver-id`, made on first use.
    public init(directory: String) throws {
        let path = directory + "/receiver-id"
        if let text = try? String(contentsOfFile: path, encoding: .utf8), let stored = Self.valid(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            id = stored
        } else {
            id = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try (id + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    static func valid(_ s: String) -> String? {
        !s.isEmpty && s.count <= 32 && s.allSatisfy({ $0.isHexDigit }) ? s : nil
    }

    /// Looks at a write's header: nil when it may be stored (its upstream ids are remembered),
    /// else the refusal's message.
    public func check(_ header: String?, now: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) -> String? {
        guard let header, !header.isEmpty else { return nil }
        // At most 64 ids of at most 32 hex digits; anything else is not ours and is ignored.
        let ids = header.split(separator: ",").prefix(64).compactMap { Self.valid($0.trimmingCharacters(in: .whitespaces)) }
        if ids.contains(id) {
            return "forwarding loop: this receiver (id \(id)) already forwarded what this write carries (\(Self.header): \(ids.joined(separator: ","))); "
                + "check the remote_write entries of the receivers in that chain"
        }
        seen.withLock { s in
            for other in ids { s[other] = now }
            if s.count > 256 { s = s.filter { now - $0.value < Self.memory } }
        }
        return nil
    }

    /// The header value for a forwarded write: this id, then the upstream ids seen lately.
    public func headerValue(now: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) -> String {
        let upstream = seen.withLock { s in s.filter { now - $0.value < Self.memory }.keys.sorted() }
        return ([id] + upstream).joined(separator: ",")
    }
}
