/// A label matcher: `name="v"`, `name!="v"`, `name=~"re"` or `name!~"re"`, as in PromQL
/// selectors. Regular expressions are fully anchored, and `.` matches newlines (Prometheus
/// compiles `^(?s:re)$`). Matching works on bytes; common regex shapes never reach the regex
/// engine (see ``FastRegex``).
public struct Matcher: Sendable, CustomStringConvertible {
    public enum MatchType: String, Sendable, CaseIterable {
        case equal = "="
        case notEqual = "!="
        case regexMatch = "=~"
        case regexNoMatch = "!~"
    }

    public let type: MatchType
    public let name: String
    public let value: String
    let regex: FastRegex?

    /// - Throws: ``MatcherError`` when a regular expression does not compile.
    public init(_ type: MatchType, _ name: String, _ value: String) throws(MatcherError) {
        self.type = type
        self.name = name
        self.value = value
        switch type {
        case .equal, .notEqual: regex = nil
        case .regexMatch, .regexNoMatch: regex = try FastRegex(value)
        }
    }

    /// Whether `value` (bytes) satisfies the matcher. An absent label has the value "".
    public func matches(_ bytes: UnsafeRawBufferPointer) -> Bool {
        switch type {
        case .equal: return equalsValue(bytes)
        case .notEqual: return !equalsValue(bytes)
        case .regexMatch: return regex?.matches(bytes) ?? false
        case .regexNoMatch: return !(regex?.matches(bytes) ?? false)
        }
    }

    /// Whether `value` satisfies the matcher.
    public func matches(_ value: String) -> Bool {
        var copy = value
        return copy.withUTF8 { matches(UnsafeRawBufferPointer($0)) }
    }

    /// True when a series without the label (value "") matches.
    public var matchesEmpty: Bool { matches("") }

    func equalsValue(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var v = value
        return v.withUTF8 { FlatLabels.equal(UnsafeRawBufferPointer($0), bytes) }
    }

    /// For `=~` with a set of literal alternatives (`a|b|c`): the alternatives, else nil.
    /// Lets the index look those values up instead of scanning all values.
    public var literalAlternatives: [String]? {
        guard type == .regexMatch else { return nil }
        return regex?.literals
    }

    public var description: String { promQLLabelName(name) + type.rawValue + quoted(value) }
}

/// A regular expression in a matcher that does not compile.
public struct MatcherError: Error, Sendable, Equatable, CustomStringConvertible {
    public var pattern: String
    public var message: String
    public var description: String { "error parsing regexp \"\(pattern)\": \(message)" }
}
