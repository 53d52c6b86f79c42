/// A lexical token of PromQL with its byte range in the query.
struct Token: Equatable, CustomStringConvertible {
    enum Kind: Equatable {
        case identifier  // a label name or keyword candidate: [a-zA-Z_][a-zA-Z0-9_]*
        case metricIdentifier  // an identifier with a colon
        case number  // decimal, hex, Inf, NaN
        case duration  // 5m, 1h30m, 500ms
        case string  // quoted, unescaped into `text`
        case leftParen, rightParen, leftBrace, rightBrace, leftBracket, rightBracket
        case comma, colon, at
        case assign  // =
        case op(BinaryOp)  // + - * / % ^ == != > < >= <= and or unless atan2
        case regexMatch, regexNoMatch  // =~ !~
        case eof
    }

    var kind: Kind
    /// The token's text: the source text, or for strings the unescaped value.
    var text: String
    var range: PositionRange

    var description: String {
        switch kind {
        case .eof: "end of input"
        case .string: "string \"\(text)\""
        case .number: "number \"\(text)\""
        case .duration: "duration \"\(text)\""
        case .identifier, .metricIdentifier: "identifier \"\(text)\""
        case .op: "<op:\(text)>"
        default: "\"\(text)\""
        }
    }
}

/// A half-open range of byte offsets in the query.
public struct PositionRange: Sendable, Equatable, CustomStringConvertible {
    public var start: Int
    public var end: Int

    public init(start: Int, end: Int) {
        self.start = start
        self.end = end
    }

    public var description: String { "\(start):\(end)" }

    /// The smallest range covering both.
    func union(_ other: PositionRange) -> PositionRange {
        PositionRange(start: min(start, other.start), end: max(end, other.end))
    }
}
