/// A query that does not parse, with the position of the problem, printed as Prometheus does:
/// `1:5: parse error: unexpected end of input`.
public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var positionRange: PositionRange
    public var message: String
    public var query: String

    public init(_ message: String, at range: PositionRange, in query: String) {
        self.message = message
        self.positionRange = range
        self.query = query
    }

    /// Line and column (1-based, column in bytes) of the start of the problem.
    public var lineAndColumn: (line: Int, column: Int) {
        var line = 1, column = 1
        for (i, byte) in query.utf8.enumerated() {
            if i >= positionRange.start { break }
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }

    public var description: String {
        let (line, column) = lineAndColumn
        return "\(line):\(column): parse error: \(message)"
    }
}
