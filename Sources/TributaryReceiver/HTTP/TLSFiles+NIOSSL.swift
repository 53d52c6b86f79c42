import NIOSSL

/// A TLS file that could not be used, named so the configuration error can point at it.
struct TLSFileError: Error {
    var file: String
    var message: String
}

extension TLSFiles {
    /// Loads the PEM files into a server configuration (TLS 1.2 or later).
    func serverConfiguration() throws(TLSFileError) -> TLSConfiguration {
        func load<T>(_ file: String, _ what: String, _ body: () throws -> T) throws(TLSFileError) -> T {
            do { return try body() } catch { throw TLSFileError(file: file, message: "cannot load the \(what) \(file): \(error)") }
        }
        let chain = try load(certFile, "certificate chain") { try NIOSSLCertificate.fromPEMFile(certFile) }
        guard !chain.isEmpty else { throw TLSFileError(file: certFile, message: "no PEM certificate in \(certFile)") }
        let key = try load(keyFile, "private key") { try NIOSSLPrivateKey(file: keyFile, format: .pem) }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        if let clientCAFile {
            let roots = try load(clientCAFile, "client CA") { try NIOSSLCertificate.fromPEMFile(clientCAFile) }
            configuration.trustRoots = .certificates(roots)
            configuration.certificateVerification = .noHostnameVerification
        }
        return configuration
    }
}
