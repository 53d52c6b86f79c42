import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import TributaryRemoteWrite
import TributaryWire

/// A scrape's answer: the body and its content type.
public struct ScrapeAnswer: Sendable {
    public var body: [UInt8]
    public var contentType: String?
}

/// Why a scrape got no body.
public struct ScrapeError: Error, CustomStringConvertible {
    public var description: String
}

/// The HTTP side of a scrape config: per target, one kept-alive ``HTTP1Connection`` and a GET
/// request prepared once (OpenMetrics preferred, gzip accepted, the scrape timeout announced,
/// the job's credentials), gzip bodies inflated with zlib. Scraping with AsyncHTTPClient spent
/// most of its time in request and pool machinery a scrape does not need (perf, 200 targets).
final class ScrapeClient: Sendable {
    let settings: HTTPClientSettings
    let tls: NIOSSLContext

    init(settings: HTTPClientSettings) throws {
        self.settings = settings
        tls = try NIOSSLContext(configuration: settings.tlsConfiguration())
    }

    /// The fetch of one target, its connection on any of the process's event loops: for callers
    /// other than scrape loops (tests).
    func fetcher(for target: ScrapeTarget) -> ScrapeFetch {
        let scraper = scraper(for: target, on: MultiThreadedEventLoopGroup.singleton.next())
        return { _ in try await scraper.fetch() }
    }

    /// A target's scraper, its connection on `eventLoop` (where the target's scrape loop runs).
    /// Its connection closes when it is released.
    func scraper(for target: ScrapeTarget, on eventLoop: any EventLoop) -> TargetScraper {
        TargetScraper(client: self, target: target, eventLoop: eventLoop)
    }
}

/// One target's connection and request, on one event loop (where the target's scrape loop
/// runs).
final class TargetScraper: Sendable {
    let eventLoop: any EventLoop
    let prepared: Result<(HTTP1Connection, ByteBuffer), ScrapeError>
    let timeout: Int64
    let maxBody: Int
    /// The last body's size, to size the next one's buffer.
    let lastBodySize = Atomic<Int>(0)

    init(client: ScrapeClient, target: ScrapeTarget, eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        timeout = target.config.scrapeTimeout
        maxBody = target.config.limits.bodyBytes
        do throws(HTTPEndpoint.Failure) {
            let endpoint = try HTTPEndpoint(url: target.url)
            var headers = [
                ("User-Agent", "Tributary/0.1"),
                ("Accept", ExpositionFormat.acceptHeader),
                ("Accept-Encoding", "gzip"),
                ("X-Prometheus-Scrape-Timeout-Seconds", "\(Double(target.config.scrapeTimeout) / 1000)")
            ]
            if let auth = client.settings.authorizationHeader { headers.append(("Authorization", auth)) }
            let head = try endpoint.head(method: "GET", headers: headers) + "\r\n"
            let connection = HTTP1Connection(
                endpoint: endpoint, tls: client.tls, serverName: client.settings.tls.serverName,
                group: eventLoop)
            prepared = .success((connection, ByteBuffer(string: head)))
        } catch {
            prepared = .failure(ScrapeError(description: "target \(target.url): \(error)"))
        }
    }

    /// One scrape: the body and its content type, within the scrape timeout; completed on
    /// the scraper's event loop.
    func scrape() -> EventLoopFuture<ScrapeAnswer> {
        let connection: HTTP1Connection, request: ByteBuffer
        switch prepared {
        case .success(let prepared): (connection, request) = prepared
        case .failure(let error): return eventLoop.makeFailedFuture(error)
        }
        let expected = lastBodySize.load(ordering: .relaxed), maxBody = maxBody
        return connection.send(request, maxBody: maxBody, expectedBody: expected, deadline: .now() + .milliseconds(timeout))
            .flatMapThrowing { response in
                guard response.status == 200 else {
                    throw ScrapeError(description: "server returned HTTP status \(response.status) \(response.reason)")
                }
                var body = response.body
                if let encoding = response.contentEncoding, encoding != "identity" {
                    guard encoding == "gzip" || encoding == "x-gzip" else { throw ScrapeError(description: "unsupported Content-Encoding \(encoding)") }
                    body = try Gunzip.inflate(body, limit: maxBody, expected: expected)
                }
                self.lastBodySize.store(body.count, ordering: .relaxed)
                return ScrapeAnswer(body: body, contentType: response.contentType)
            }
    }

    /// ``scrape()``, awaited.
    func fetch() async throws -> (body: [UInt8], contentType: String?) {
        let answer = try await scrape().get()
        return (answer.body, answer.contentType)
    }

    /// Ends a fetch in flight: its connection is closed.
    func abort() {
        if case .success(let (connection, _)) = prepared { connection.close() }
    }
}
