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
    /// Uses the event-loop API: the body is accumulated on the event loop and handed over once,
    /// instead of streaming each chunk through an async sequence (perf: that streaming was the
    /// largest part of a scrape's cost at 200 targets).
    static func fetcher(client: HTTPClient) -> ScrapeFetch {
        { target in
            var headers = HTTPHeaders()
            headers.add(name: "Accept", value: ExpositionFormat.acceptHeader)
            headers.add(name: "Accept-Encoding", value: "gzip")
            headers.add(name: "User-Agent", value: "Tributary/0.1")
            headers.add(name: "X-Prometheus-Scrape-Timeout-Seconds", value: String(Double(target.config.scrapeTimeout) / 1000))
            if let auth = target.config.http.authorizationHeader { headers.add(name: "Authorization", value: auth) }
            let request = try HTTPClient.Request(url: target.url, method: .GET, headers: headers)
            let accumulator = ResponseAccumulator(request: request, maxBodySize: target.config.limits.bodyBytes)
            let task = client.execute(request: request, delegate: accumulator, deadline: .now() + .milliseconds(target.config.scrapeTimeout))
            // A stopping agent cancels its loops: cancel the request too instead of waiting for it.
            let response = try await withTaskCancellationHandler {
                try await task.futureResult.get()
            } onCancel: {
                task.cancel()
            }
            guard response.status.code == 200 else {
                throw ScrapeError(description: "server returned HTTP status \(response.status.code) \(response.status.reasonPhrase)")
            }
            return (response.body.map { Array($0.readableBytesView) } ?? [], response.headers.first(name: "Content-Type"))
        }
    }
}
