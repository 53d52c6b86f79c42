import Foundation

/// A peer server (Debian's prometheus, victoria-metrics, …) started for one test on a free
/// loopback port and stopped when the test ends. Fails loudly when the binary is missing.
final class PeerProcess {
    let process = Process()
    let port: Int
    let directory: URL
    let log: URL

    /// Starts `binary` with `arguments(port, directory)` and waits until `readyPath` answers 200.
    init(binary: String, readyPath: String, timeout: Double = 30, arguments: (Int, URL) -> [String]) throws {
        guard let path = Self.which(binary) else {
            throw PeerError("\(binary) is not installed; run ./scripts/setup (Debian package)")
        }
        port = try Self.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-peer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        log = directory.appendingPathComponent("peer.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments(port, directory)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? Self.get(URL(string: "http://127.0.0.1:\(port)\(readyPath)")!).status) == 200 { return }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        stop()
        throw PeerError("\(binary) did not become ready on port \(port) within \(timeout) s:\n\(output.suffix(2000))")
    }

    deinit { stop() }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    static func which(_ binary: String) -> String? {
        for dir in ["/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin"] {
            let p = dir + "/" + binary
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PeerError("socket() failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard bound else { throw PeerError("cannot find a free port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// A blocking HTTP request (tests only).
    static func request(_ request: URLRequest) throws -> (status: Int, body: Data) {
        let semaphore = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: (Int, Data)?
        nonisolated(unsafe) var failure: (any Error)?
        let task = URLSession.shared.dataTask(with: request) { data, response, error in
            if let error { failure = error } else {
                result = ((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data())
            }
            semaphore.signal()
        }
        task.resume()
        if semaphore.wait(timeout: .now() + 60) == .timedOut {
            task.cancel()
            throw PeerError("HTTP request to \(request.url?.absoluteString ?? "?") timed out")
        }
        if let failure { throw failure }
        guard let result else { throw PeerError("no HTTP response") }
        return result
    }

    static func get(_ url: URL) throws -> (status: Int, body: Data) {
        var r = URLRequest(url: url)
        r.timeoutInterval = 10
        return try request(r)
    }
}

struct PeerError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
