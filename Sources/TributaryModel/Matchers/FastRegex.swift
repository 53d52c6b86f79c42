/// An anchored regular expression with fast paths for the shapes label matchers mostly use,
/// in the spirit of Prometheus's `FastRegexMatcher`: a literal (`lab-1`), an alternation of
/// literals (`lab-1|lab-2`), a prefix (`lab-.*`), a suffix (`.*:9100`), a substring
/// (`.*node.*`), and `.*` / `.+`. Anything else goes to Swift's regex engine, matching on
/// Unicode scalars with `.` matching newlines.
public struct FastRegex: @unchecked Sendable {
    enum Shape {
        case any  // .*
        case nonEmpty  // .+
        case literals(Set<[UInt8]>)  // a|b|c (one or more)
        case prefix([UInt8])  // abc.*
        case suffix([UInt8])  // .*abc
        case contains([UInt8])  // .*abc.*
        case general(Regex<AnyRegexOutput>)
    }

    let shape: Shape
    /// The alternatives of a literal set, in the order written.
    let literals: [String]?

    init(_ pattern: String) throws(MatcherError) {
        if pattern == ".*" {
            shape = .any
            literals = nil
            return
        }
        if pattern == ".+" {
            shape = .nonEmpty
            literals = nil
            return
        }
        if let alternatives = Self.literalAlternatives(pattern) {
            shape = .literals(Set(alternatives.map { Array($0.utf8) }))
            literals = alternatives
            return
        }
        literals = nil
        if pattern.hasSuffix(".*"), let lit = Self.literal(String(pattern.dropLast(2))) {
            if lit.hasPrefix(".*") || lit.isEmpty {
                // handled below as contains / any
            } else {
                shape = .prefix(Array(lit.utf8))
                return
            }
        }
        if pattern.hasPrefix(".*"), pattern.hasSuffix(".*"), pattern.count >= 4,
            let lit = Self.literal(String(pattern.dropFirst(2).dropLast(2))), !lit.isEmpty
        {
            shape = .contains(Array(lit.utf8))
            return
        }
        if pattern.hasPrefix(".*"), let lit = Self.literal(String(pattern.dropFirst(2))), !lit.isEmpty {
            shape = .suffix(Array(lit.utf8))
            return
        }
        do {
            let regex = try Regex("^(?s:" + pattern + ")$").matchingSemantics(.unicodeScalar)
            shape = .general(regex)
        } catch {
            throw MatcherError(pattern: pattern, message: "\(error)")
        }
    }

    func matches(_ bytes: UnsafeRawBufferPointer) -> Bool {
        switch shape {
        case .any: return true
        case .nonEmpty: return !bytes.isEmpty
        case .literals(let set):
            return set.contains(Array(bytes))
        case .prefix(let p):
            return bytes.count >= p.count && p.withUnsafeBytes { FlatLabels.equal($0, UnsafeRawBufferPointer(rebasing: bytes.prefix(p.count))) }
        case .suffix(let s):
            return bytes.count >= s.count && s.withUnsafeBytes { FlatLabels.equal($0, UnsafeRawBufferPointer(rebasing: bytes.suffix(s.count))) }
        case .contains(let c):
            guard bytes.count >= c.count else { return false }
            return c.withUnsafeBytes { needle in
                var i = 0
                while i + needle.count <= bytes.count {
                    if FlatLabels.equal(needle, UnsafeRawBufferPointer(rebasing: bytes[i..<(i + needle.count)])) { return true }
                    i += 1
                }
                return false
            }
        case .general(let regex):
            guard let string = String(validating: bytes, as: UTF8.self) else { return false }
            return (try? regex.wholeMatch(in: string)) != nil
        }
    }

    /// The literal text of `pattern` if it has no regex syntax other than `\`-escaped
    /// punctuation; nil otherwise.
    static func literal(_ pattern: String) -> String? {
        var out = ""
        var escaped = false
        for c in pattern {
            if escaped {
                guard c.isASCII, c.isPunctuation || c.isSymbol else { return nil }
                out.append(c)
                escaped = false
                continue
            }
            switch c {
            case "\\": escaped = true
            case ".", "+", "*", "?", "(", ")", "|", "[", "]", "{", "}", "^", "$": return nil
            default: out.append(c)
            }
        }
        return escaped ? nil : out
    }

    /// `a|b|c` (optionally in one `(...)` group) as literals; nil when any part is not literal.
    static func literalAlternatives(_ pattern: String) -> [String]? {
        var body = Substring(pattern)
        if body.hasPrefix("(?:"), body.hasSuffix(")") { body = body.dropFirst(3).dropLast() } else if body.hasPrefix("("), body.hasSuffix(")"), !body.hasPrefix("(?") { body = body.dropFirst().dropLast() }
        var parts: [String] = []
        var current = ""
        var escaped = false
        for c in body {
            if escaped { current.append("\\"); current.append(c); escaped = false; continue }
            if c == "\\" { escaped = true; continue }
            if c == "|" { parts.append(current); current = ""; continue }
            current.append(c)
        }
        if escaped { return nil }
        parts.append(current)
        var literals: [String] = []
        for part in parts {
            guard let lit = literal(part) else { return nil }
            literals.append(lit)
        }
        return literals
    }
}
