/// An error of the query API, with Prometheus's `errorType` and HTTP status.
struct APIError: Error {
    enum Kind: String {
        case badData = "bad_data"
        case execution
        case timeout
        case canceled
        case `internal`
        case notFound = "not_found"
        case unavailable
    }

    var kind: Kind
    var message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// Prometheus's mapping of error types to status codes.
    var status: Int {
        switch kind {
        case .badData: 400
        case .execution: 422
        case .timeout, .unavailable: 503
        case .canceled: 499
        case .internal: 500
        case .notFound: 404
        }
    }
}
