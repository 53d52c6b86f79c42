import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import TributaryWire

/// Fetches scrape bodies over HTTP: OpenMetrics preferred, gzip accepted, the scrape timeout as
/// the request deadline, and the job's credentials.
public struct ScrapeError: Error, CustomStringConvertible {
    public var description: String
}

enum HTTPScraper {
    static let maxBodyBytes = 128 << 20

    static func fetcher(client: HTTPClient) -> ScrapeFetch {
        { target in
            var request = HTTPClientRequest(url: target.url)
            request.headers.add(name: "Accept", value: ExpositionFormat.acceptHeader)
            request.headers.add(name: "Accept-Encoding", value: "gzip")
            request.headers.add(name: "User-Agent", value: "Tributary/0.1")
            request.headers.add(name: "X-Prometheus-Scrape-Timeout-Seconds", value: String(Double(target.config.scrapeTimeout) / 1000))
            if let auth = target.config.http.authorizationHeader { request.headers.add(name: "Authorization", value: auth) }
            let response = try await client.execute(request, timeout: .milliseconds(target.config.scrapeTimeout))
            guard response.status.code == 200 else {
                _ = try? await response.body.collect(upTo: 1 << 16)
                throw ScrapeError(description: "server returned HTTP status \(response.status.code) \(response.status.reasonPhrase)")
            }
            let body = try await response.body.collect(upTo: maxBodyBytes)
            return (Array(body.readableBytesView), response.headers.first(name: "Content-Type"))
        }
    }
}
