import TributaryHTTPServer

/// The receiver's pages and the header that links them.
enum ReceiverPages {
    static let product = "Tributary receiver"
    static let links = [
        WebPage.Link("/graph", "Query"), WebPage.Link("/status", "Status"), WebPage.Link("/tsdb-status", "Cardinality"),
        WebPage.Link("/metrics", "Metrics")
    ]
    /// Path → page. `/` is the query page, as Prometheus's `/` leads to its graph.
    static let byPath: [String: String] = [
        "/": QueryPage.html, "/graph": QueryPage.html, "/query": QueryPage.html, "/status": StatusPage.html,
        "/tsdb-status": CardinalityPage.html
    ]
}
