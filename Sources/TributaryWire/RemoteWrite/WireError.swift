/// Why a remote-write body was refused, with enough context to find the offending bytes.
///
/// The receiver maps ``Code/bodyTooLarge`` to 413 and every other code to 400; the message is
/// what the sender logs.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable, CaseIterable {
        /// The declared uncompressed size exceeds the configured limit.
        case bodyTooLarge
        /// The body uses snappy's framed (stream) format instead of the block format.
        case snappyFramed
        /// The snappy block is corrupt or truncated.
        case snappyCorrupt
        /// The protobuf message is malformed or truncated.
        case protobufMalformed
        /// More series than the configured per-request limit.
        case tooManySeries
        /// Remote write 2.0 symbols table is invalid (`symbols[0]` must be empty).
        case invalidSymbols
        /// A series was refused (its labels or references); see ``seriesIndex``.
        case invalidSeries
    }

    public var code: Code
    public var message: String
    /// Index of the offending series in the request, when one series is to blame.
    public var seriesIndex: Int?
    /// The label concerned, when one is.
    public var labelName: String?

    public init(_ code: Code, _ message: String, seriesIndex: Int? = nil, labelName: String? = nil) {
        self.code = code
        self.message = message
        self.seriesIndex = seriesIndex
        self.labelName = labelName
    }

    public var description: String { message }
}
