import CCrypt
import Foundation
import Synchronization

/// Who may write and who may read: bearer tokens and basic-auth users with bcrypt hashes.
public struct AccessRule: Sendable, Equatable {
    public var bearerTokens: [String] = []
    /// User name → bcrypt hash (`$2b$…`, as `htpasswd -B` and Prometheus's web config use).
    public var basicUsers: [String: String] = [:]

    public init(bearerTokens: [String] = [], basicUsers: [String: String] = [:]) {
        self.bearerTokens = bearerTokens
        self.basicUsers = basicUsers
    }

    var isOpen: Bool { bearerTokens.isEmpty && basicUsers.isEmpty }
}

/// The receiver's auth settings: separate rules for the write endpoint and the query API.
public struct AuthConfiguration: Sendable, Equatable {
    public var write = AccessRule()
    public var read = AccessRule()
    public init() {}
}

/// Checks `Authorization` headers against an ``AccessRule``.
///
/// bcrypt is slow on purpose (tens of milliseconds per check), far too slow to run for every
/// remote-write request, so successful user/password pairs are remembered, as Prometheus's
/// exporter-toolkit does. Tokens and hashes are compared in constant time.
public final class Authenticator: Sendable {
    let rule: AccessRule
    let verified = Mutex<Set<String>>([])

    public init(_ rule: AccessRule) { self.rule = rule }

    /// True when the request may proceed.
    public func allows(_ authorization: String?) -> Bool {
        if rule.isOpen { return true }
        guard let header = authorization, let (scheme, credentials) = Self.split(header) else { return false }
        if scheme == "bearer" {
            let token = Array(credentials.utf8)
            return rule.bearerTokens.contains { Self.constantTimeEqual(Array($0.utf8), token) }
        }
        if scheme == "basic", let data = Data(base64Encoded: credentials),
            let credentials = String(data: data, encoding: .utf8), let colon = credentials.firstIndex(of: ":")
        {
            let user = String(credentials[..<colon]), password = String(credentials[credentials.index(after: colon)...])
            guard let hash = rule.basicUsers[user] else { return false }
            let key = user + "\u{0}" + password
            if verified.withLock({ $0.contains(key) }) { return true }
            guard Self.bcryptMatches(password: password, hash: hash) else { return false }
            verified.withLock { set in
                if set.count > 10_000 { set.removeAll() }
                set.insert(key)
            }
            return true
        }
        return false
    }

    /// The scheme, lowercased (RFC 9110: auth schemes are case-insensitive, so `bearer` and
    /// `BASIC` are Bearer and Basic), and the credentials after the spaces that follow it.
    static func split(_ header: String) -> (scheme: String, credentials: String)? {
        guard let space = header.firstIndex(of: " ") else { return nil }
        let credentials = header[space...].drop { $0 == " " }
        return (header[..<space].lowercased(), String(credentials))
    }

    /// `WWW-Authenticate` for a 401.
    public var challenge: String { rule.basicUsers.isEmpty ? "Bearer" : "Basic realm=\"tributary\"" }

    static func bcryptMatches(password: String, hash: String) -> Bool {
        guard hash.hasPrefix("$2") else { return false }
        var data = crypt_data()
        let result: [UInt8]? = withUnsafeMutablePointer(to: &data) { p in
            guard let out = crypt_r(password, hash, p) else { return nil }
            return Array(String(cString: out).utf8)
        }
        guard let result else { return false }
        return constantTimeEqual(result, Array(hash.utf8))
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
