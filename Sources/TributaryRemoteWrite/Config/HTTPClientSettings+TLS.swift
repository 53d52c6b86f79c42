import NIOSSL

extension HTTPClientSettings {
    /// The TLS side of these settings: CA file, client certificate, verification.
    package func tlsConfiguration() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if tls.insecureSkipVerify { configuration.certificateVerification = .none }
        if let ca = tls.caFile { configuration.trustRoots = .file(ca) }
        if let cert = tls.certFile, let key = tls.keyFile {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        }
        return configuration
    }
}
