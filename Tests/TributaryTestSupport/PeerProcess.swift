import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A process for a test: one of Debian's peers (`/usr/bin/NAME`) or one of ours
/// (`.build/debug/NAME`), on a free loopback port, stopped (SIGTERM, then SIGKILL) by `stop()`.
/// Blocking: call from a plain thread (`offPool`), not from Swift's cooperative pool.
public final class PeerProcess: @unchecked Sendable {
    public let process = Process()
    public let port: Int
    public let dir: String
    public let name: String
    let log: String

    /// `arguments` gets the port and a scratch directory. Waits until `readyPath` answers.
    public init(_ name: String, port: Int? = nil, dir: String? = nil, readyPath: String = "/metrics", arguments: (Int, String) throws -> [String]) throws {
        self.name = name
        let path = name.hasPrefix("/") ? name : (FileManager.default.isExecutableFile(atPath: "/usr/bin/" + name) ? "/usr/bin/" + name : Self.ourBinary(name))
        guard FileManager.default.isExecutableFile(atPath: path) else { throw TestFailure("\(name) is not installed or built (\(path)): run ./scripts/setup or swift build") }
        self.port = port ?? freePort()
        self.dir = dir ?? NSTemporaryDirectory() + "tributary-peer-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: self.dir, withIntermediateDirectories: true)
        log = self.dir + "/\((name as NSString).lastPathComponent).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = try arguments(self.port, self.dir)
        process.standardOutput = FileHandle(forWritingAtPath: log)
        process.standardError = FileHandle(forWritingAtPath: log)
        try process.run()
        for _ in 0..<150 {
            if (try? httpGet("http://127.0.0.1:\(self.port)\(readyPath)")) != nil { return }
            if !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        kill()
        throw TestFailure("\(name) did not start on port \(self.port): \(output.suffix(2000))")
    }

    /// `.build/debug/NAME` of this package.
    public static func ourBinary(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/debug/\(name)").standardized.path
    }

    public var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// SIGTERM and wait (SIGKILL after `grace` seconds).
    public func stop(grace: Double = 5) {
        if process.isRunning {
            process.terminate()
            var waited = 0.0
            while process.isRunning, waited < grace { Thread.sleep(forTimeInterval: 0.05); waited += 0.05 }
        }
        kill()
    }

    /// SIGKILL, as a crash.
    public func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    public func removeDirectory() { try? FileManager.default.removeItem(atPath: dir) }
}

public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// A port nothing listens on now (the kernel's pick for port 0).
public func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Sends `request` (10 s timeout unless it sets one) and returns status and body, whatever the
/// status; throws on a transport error or no answer.
public func httpRequest(_ request: URLRequest) throws -> (status: Int, body: Data) {
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var result: Result<(Int, Data), any Error> = .failure(TestFailure("no answer"))
    var request = request
    if request.timeoutInterval > 10 { request.timeoutInterval = 10 }
    URLSession.shared.dataTask(with: request) { data, response, error in
        if let error { result = .failure(error) } else { result = .success(((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data())) }
        done.signal()
    }.resume()
    guard done.wait(timeout: .now() + request.timeoutInterval + 2) == .success else { throw TestFailure("\(request.url?.absoluteString ?? "?"): timed out") }
    return try result.get()
}

/// GET with a 10 s timeout; throws on a transport error or a status other than 2xx.
public func httpGet(_ url: String) throws -> String {
    guard let u = URL(string: url) else { throw TestFailure("bad URL \(url)") }
    let (status, data) = try httpRequest(URLRequest(url: u))
    guard (200..<300).contains(status) else { throw TestFailure("\(url): HTTP \(status) \(String(decoding: data, as: UTF8.self).prefix(300))") }
    return String(decoding: data, as: UTF8.self)
}

/// The JSON of a GET.
public func httpJSON(_ url: String) throws -> [String: Any] {
    let text = try httpGet(url)
    guard let json = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { throw TestFailure("\(url): not JSON: \(text.prefix(300))") }
    return json
}

/// Sum of a metric's samples in exposition text; `labels` narrows to lines that contain it.
public func exposedValue(_ text: String, _ name: String, labels: String = "") -> Double {
    exposedValues(text, name, labels: labels).reduce(0, +)
}

/// A metric's samples in exposition text, one per line (label set) in order.
public func exposedValues(_ text: String, _ name: String, labels: String = "") -> [Double] {
    text.split(separator: "\n")
        .filter { ($0.hasPrefix(name + "{") || $0.hasPrefix(name + " ")) && (labels.isEmpty || $0.contains(labels)) }
        .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
}

/// Runs blocking work on a plain thread, not on Swift's cooperative pool (two threads on
/// these machines), which in-process servers need.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    let result: Result<T, any Error> = await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: Result { try body() }) }
    }
    return try result.get()
}

/// The raw samples of each series a `query` (a range selector) returns from a Prometheus API
/// at `base`: labels rendered as `{k="v",…}` → [(timestamp ms, value)].
public func rawSamples(_ base: String, _ query: String) throws -> [String: [(Int64, Double)]] {
    let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? query
    let json = try httpJSON("\(base)/api/v1/query?query=\(encoded)")
    guard let result = (json["data"] as? [String: Any])?["result"] as? [[String: Any]] else { throw TestFailure("\(query): \(json)") }
    var out: [String: [(Int64, Double)]] = [:]
    for series in result {
        let metric = (series["metric"] as? [String: String]) ?? [:]
        let key = "{" + metric.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",") + "}"
        let values = (series["values"] as? [[Any]]) ?? []
        out[key] = values.compactMap { pair in
            guard pair.count == 2, let t = pair[0] as? Double, let v = (pair[1] as? String).flatMap(Double.init) else { return nil }
            return (Int64((t * 1000).rounded()), v)
        }
    }
    return out
}

/// Expectations checked on a plain thread (where Swift Testing cannot attribute them to a
/// test): collected there, reported by `report` on the test's own task.
public final class Checks: @unchecked Sendable {
    var failures: [String] = []
    let lock = NSLock()

    public init() {}

    public func callAsFunction(_ condition: Bool, _ message: @autoclosure () -> String = "", line: Int = #line) {
        guard !condition else { return }
        let text = "line \(line): " + message()
        lock.lock(); failures.append(text); lock.unlock()
    }

    /// Hands the failures to `record` (e.g. `{ Issue.record(Comment(rawValue: $0)) }`).
    public func report(_ record: (String) -> Void) {
        lock.lock(); let all = failures; lock.unlock()
        for f in all { record(f) }
    }
}
