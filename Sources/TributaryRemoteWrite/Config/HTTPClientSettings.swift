import Foundation

/// `basic_auth`, `authorization` and `tls_config`, as scrape and remote-write configs share them.
public struct HTTPClientSettings: Sendable, Equatable {
    public var basicAuth: (username: String, password: String)?
    public var authorization: (type: String, credentials: String)?
    public var tls = TLSClientSettings()

    public init() {}

    public static func == (a: HTTPClientSettings, b: HTTPClientSettings) -> Bool {
        a.basicAuth?.username == b.basicAuth?.username && a.basicAuth?.password == b.basicAuth?.password
            && a.authorization?.type == b.authorization?.type && a.authorization?.credentials == b.authorization?.credentials
            && a.tls == b.tls
    }

    /// The `Authorization` header value, if any.
    public var authorizationHeader: String? {
        if let a = authorization { return "\(a.type) \(a.credentials)" }
        if let b = basicAuth { return "Basic " + Data("\(b.username):\(b.password)".utf8).base64EncodedString() }
        return nil
    }
}

public struct TLSClientSettings: Sendable, Equatable {
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    public var serverName: String?
    public var insecureSkipVerify = false

    public init() {}
}
