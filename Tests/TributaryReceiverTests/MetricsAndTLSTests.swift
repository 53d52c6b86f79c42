import Foundation
import Testing
import TributaryModel
import TributaryReceiver
import TributaryRemoteWrite
import TributaryTestSupport
import TributaryWire

@testable import TributaryAgent

@Suite(.serialized) struct MetricsAndTLSTests {
    /// `/metrics` counts samples and refusals by reason and status code, and times requests.
    @Test func refusalsAreCountedByReason() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let good = ReceiverTests.body([ReceiverTests.series(["__name__": "m", "job": "j"], [(now - 2000, 1), (now - 1000, 2)])])
        #expect(try await server.write(good).0 == 204)
        // Out of order: one sample behind the series' newest, plus one good sample.
        let late = ReceiverTests.body([
            ReceiverTests.series(["__name__": "m", "job": "j"], [(now - 5000, 1)]),
            ReceiverTests.series(["__name__": "m", "job": "k"], [(now, 1)])
        ])
        #expect(try await server.write(late).0 == 400)
        #expect(try await server.write(Array("not snappy".utf8)).0 == 400)
        #expect(try await server.write(good, contentType: "application/json").0 == 415)
        _ = try await server.get("/api/v1/query?query=m")

        let (_, _, text) = try await server.get("/metrics")
        #expect(exposedValue(text, "tributary_remote_write_samples_received_total") == 4)
        #expect(exposedValue(text, "tributary_remote_write_samples_stored_total") == 3)
        #expect(exposedValue(text, "tributary_remote_write_samples_rejected_total", labels: "reason=\"out_of_order\"") == 1)
        #expect(exposedValue(text, "tributary_remote_write_requests_refused_total", labels: "reason=\"out_of_order\"") == 1)
        #expect(exposedValue(text, "tributary_remote_write_requests_refused_total", labels: "reason=\"snappy\"") == 1)
        #expect(exposedValue(text, "tributary_remote_write_requests_refused_total", labels: "reason=\"unsupported_content_type\"") == 1)
        #expect(exposedValue(text, "tributary_remote_write_requests_total", labels: "code=\"204\"") == 1)
        #expect(exposedValue(text, "tributary_remote_write_requests_total", labels: "code=\"400\"") == 2)
        #expect(exposedValue(text, "tributary_remote_write_requests_total", labels: "code=\"415\"") == 1)
        #expect(exposedValue(text, "tributary_http_request_duration_seconds_count", labels: "handler=\"/api/v1/write\"") == 4)
        #expect(exposedValue(text, "tributary_http_request_duration_seconds_count", labels: "handler=\"/api/v1/query\"") == 1)
        #expect(exposedValue(text, "tributary_head_series") == 2)
        #expect(exposedValue(text, "tributary_wal_written_bytes") > 0)
        #expect(text.contains("# TYPE tributary_http_request_duration_seconds histogram"))
        await server.stop()
    }

    /// The pages are served (`/` is the query page), and the API calls their scripts make, with
    /// the parameters they send (float seconds, a step in seconds), answer with success.
    /// `WebPagesTests` drives them in a browser.
    @Test func pagesAndTheCallsTheyMake() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let now = Date().timeIntervalSince1970
        #expect(try await server.write(ReceiverTests.body([ReceiverTests.series(["__name__": "up", "job": "node", "group": "lab-1"], [(Int64(now * 1000) - 30_000, 1)])])).0 == 204)
        for (path, marker) in [
            ("/", "<textarea id=\"expr\""), ("/graph", "api/v1/query_range"), ("/status", "api/v1/status/"), ("/tsdb-status", "api/v1/status/tsdb")
        ] {
            let (code, _, page) = try await server.get(path)
            #expect(code == 200 && page.contains(marker) && page.hasPrefix("<!doctype html>"), "\(path)")
        }
        for path in [
            "/api/v1/status/tsdb", "/api/v1/status/buildinfo", "/api/v1/status/runtimeinfo", "/api/v1/status/flags", "/api/v1/status/config",
            "/api/v1/status/blocks", "/api/v1/status/groups", "/api/v1/status/queues", "/api/v1/label/__name__/values",
            "/api/v1/query_range?query=sum+by+(group%2C+job)+(up)&start=\(now - 3600)&end=\(now)&step=14",
            "/api/v1/query?query=sum+by+(group%2C+job)+(up)&time=\(now)"
        ] {
            let (c, json, text) = try await server.get(path)
            #expect(c == 200 && json["status"] as? String == "success", "\(path): \(text)")
        }
        await server.stop()
    }

    /// With `tls`, the receiver speaks HTTPS only: curl verifies it against the CA that signed
    /// the certificate, writes and queries over it, the agent scrapes it; plain HTTP to the same
    /// port gets nowhere.
    @Test func servesHTTPSWithConfiguredCertificate() async throws {
        let dir = NSTemporaryDirectory() + "tributary-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem"
            ])
        let config = try ReceiverConfigFile.parse("tls: {cert_file: \(dir)/cert.pem, key_file: \(dir)/key.pem}\n", file: "r.yml")
        let server = try await TestServer { $0.tls = config.tls }
        defer { server.removeData() }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try Data(ReceiverTests.body([ReceiverTests.series(["__name__": "tls_up", "job": "j"], [(now, 1)])])).write(to: URL(fileURLWithPath: dir + "/body"))
        let url = "https://127.0.0.1:\(server.port)"
        let write = try await offPool {
            try run(
                "/usr/bin/curl",
                [
                    "-sS", "--cacert", dir + "/cert.pem", "-o", "/dev/null", "-w", "%{http_code}",
                    "-H", "Content-Type: application/x-protobuf", "-H", "Content-Encoding: snappy", "--data-binary", "@" + dir + "/body", url + "/api/v1/write"
                ])
        }
        #expect(write == "204")
        let query = try await offPool { try run("/usr/bin/curl", ["-sS", "--cacert", dir + "/cert.pem", url + "/api/v1/query?query=tls_up"]) }
        #expect(query.contains("\"tls_up\""), "\(query)")
        // The agent's scrape client over HTTPS, verifying against the same CA, by IP and by name;
        // without the CA the certificate is refused.
        // A generous timeout: the whole suite runs in parallel on two cores, and this checks TLS, not speed.
        var sc = ScrapeConfig(jobName: "tls", scrapeInterval: 30_000, scrapeTimeout: 30_000)
        sc.scheme = "https"
        var targets = StaticConfig()
        targets.targets = ["127.0.0.1:\(server.port)", "localhost:\(server.port)"]
        sc.staticConfigs = [targets]
        var untrusted = sc
        sc.http.tls.caFile = dir + "/cert.pem"
        for target in ScrapeTarget.resolve(sc) {
            let (body, _) = try await ScrapeClient(settings: sc.http).fetcher(for: target)(target)
            #expect(String(decoding: body, as: UTF8.self).contains("tributary_remote_write_samples_received_total"), "\(target.url)")
        }
        untrusted.staticConfigs[0].targets.removeLast()
        for target in ScrapeTarget.resolve(untrusted) {
            do {
                _ = try await ScrapeClient(settings: untrusted.http).fetcher(for: target)(target)
                Issue.record("\(target.url) was trusted without the CA")
            } catch {
                // Refused for the certificate, not for anything else.
                #expect("\(error)".contains("CERTIFICATE_VERIFY_FAILED"), "\(target.url): \(error)")
            }
        }
        let plain = try await offPool { (try? run("/usr/bin/curl", ["-sS", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(server.port)/-/healthy"])) ?? "failed" }
        #expect(plain != "200", "plain HTTP must not be served on the TLS port")
        await server.stop()
    }
}

/// Runs a program to completion and returns its standard output; throws on a non-zero exit.
@discardableResult
func run(_ path: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw TestError("\(path) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)") }
    return String(decoding: data, as: UTF8.self)
}
