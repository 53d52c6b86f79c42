import Foundation
import NIOCore

/// Where an `http://` or `https://` URL points, and the start of a request to it: split once,
/// so each request is bytes appended to a prepared head.
package struct HTTPEndpoint: Sendable {
    package struct Failure: Error, CustomStringConvertible {
        package var description: String
    }

    package var host: String
    package var port: Int
    package var https: Bool
    /// `host:port` as the URL wrote it (the Host header).
    package var authority: String
    /// Path and query, at least `/`.
    package var target: String

    package init(url: String) throws(Failure) {
        guard let schemeEnd = url.range(of: "://") else { throw Failure(description: "bad URL \(url)") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { throw Failure(description: "unsupported scheme \(scheme) in \(url)") }
        https = scheme == "https"
        let rest = url[schemeEnd.upperBound...]
        let pathStart = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        authority = String(rest[..<pathStart])
        var path = String(rest[pathStart...].prefix { $0 != "#" })
        if path.isEmpty || path.first == "?" { path = "/" + path }
        target = path
        if authority.contains("@") { throw Failure(description: "credentials in the URL \(url): use basic_auth") }
        host = authority
        port = https ? 443 : 80
        if let colon = authority.lastIndex(of: ":"), !authority[colon...].contains("]") {
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else {
                throw Failure(description: "bad port in \(url)")
            }
            port = p
            host = String(authority[..<colon])
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !Self.unsafe(url) else { throw Failure(description: "bad URL \(url)") }
    }

    /// Characters that would break a request line or header.
    package static func unsafe(_ s: String) -> Bool {
        s.utf8.contains { $0 == 13 || $0 == 10 || $0 == 0 || $0 == 32 }
    }

    /// The request line and headers (without the blank line that ends them). Header values
    /// with line breaks are refused.
    package func head(method: String, headers: [(String, String)]) throws(Failure) -> String {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: \(authority)\r\n"
        for (name, value) in headers {
            guard !name.isEmpty, !Self.unsafe(name), !value.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) else {
                throw Failure(description: "header \(name) has a character a header cannot carry")
            }
            head += "\(name): \(value)\r\n"
        }
        return head
    }
}
