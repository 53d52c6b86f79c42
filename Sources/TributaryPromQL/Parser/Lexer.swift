/// Splits a PromQL query into tokens, working on its UTF-8 bytes.
struct Lexer {
    let bytes: [UInt8]
    let query: String
    var offset = 0

    init(_ query: String) {
        self.query = query
        self.bytes = Array(query.utf8)
    }

    static let keywords: [String: BinaryOp] = ["and": .and, "or": .or, "unless": .unless, "atan2": .atan2]

    /// All tokens up to and including `.eof`.
    mutating func tokenize() throws(ParseError) -> [Token] {
        var tokens: [Token] = []
        while true {
            let t = try next()
            tokens.append(t)
            if t.kind == .eof { return tokens }
        }
    }

    func error(_ message: String, _ start: Int, _ end: Int? = nil) -> ParseError {
        ParseError(message, at: PositionRange(start: start, end: end ?? max(start, offset)), in: query)
    }

    func peek(_ k: Int = 0) -> UInt8? { offset + k < bytes.count ? bytes[offset + k] : nil }

    func text(_ start: Int, _ end: Int) -> String { String(decoding: bytes[start..<end], as: UTF8.self) }

    mutating func next() throws(ParseError) -> Token {
        // Skip whitespace and comments.
        while let c = peek() {
            if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") {
                offset += 1
            } else if c == UInt8(ascii: "#") {
                while let d = peek(), d != UInt8(ascii: "\n") { offset += 1 }
            } else {
                break
            }
        }
        let start = offset
        guard let c = peek() else { return Token(kind: .eof, text: "", range: PositionRange(start: start, end: start)) }
        func single(_ kind: Token.Kind, _ length: Int = 1) -> Token {
            offset += length
            return Token(kind: kind, text: text(start, offset), range: PositionRange(start: start, end: offset))
        }
        switch c {
        case UInt8(ascii: "("): return single(.leftParen)
        case UInt8(ascii: ")"): return single(.rightParen)
        case UInt8(ascii: "{"): return single(.leftBrace)
        case UInt8(ascii: "}"): return single(.rightBrace)
        case UInt8(ascii: "["): return single(.leftBracket)
        case UInt8(ascii: "]"): return single(.rightBracket)
        case UInt8(ascii: ","): return single(.comma)
        case UInt8(ascii: ":"): return single(.colon)
        case UInt8(ascii: "@"): return single(.at)
        case UInt8(ascii: "+"): return single(.op(.add))
        case UInt8(ascii: "-"): return single(.op(.sub))
        case UInt8(ascii: "*"): return single(.op(.mul))
        case UInt8(ascii: "/"): return single(.op(.div))
        case UInt8(ascii: "%"): return single(.op(.mod))
        case UInt8(ascii: "^"): return single(.op(.pow))
        case UInt8(ascii: "="):
            if peek(1) == UInt8(ascii: "=") { return single(.op(.eql), 2) }
            if peek(1) == UInt8(ascii: "~") { return single(.regexMatch, 2) }
            return single(.assign)
        case UInt8(ascii: "!"):
            if peek(1) == UInt8(ascii: "=") { return single(.op(.neq), 2) }
            if peek(1) == UInt8(ascii: "~") { return single(.regexNoMatch, 2) }
            throw error("unexpected character after '!': \(peek(1).map { "'\(Character(UnicodeScalar($0)))'" } ?? "end of input")", start, start + 1)
        case UInt8(ascii: ">"):
            if peek(1) == UInt8(ascii: "=") { return single(.op(.gte), 2) }
            if peek(1) == UInt8(ascii: "/") { return single(.op(.trimLower), 2) }
            return single(.op(.gtr))
        case UInt8(ascii: "<"):
            if peek(1) == UInt8(ascii: "=") { return single(.op(.lte), 2) }
            if peek(1) == UInt8(ascii: "/") { return single(.op(.trimUpper), 2) }
            return single(.op(.lss))
        case UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "`"):
            return try string()
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."):
            return try numberOrDuration()
        default:
            if Self.isIdentifierStart(c) { return identifier() }
            let scalar = String(decoding: bytes[start..<min(start + 4, bytes.count)], as: UTF8.self).unicodeScalars.first
            throw error("unexpected character: '\(scalar.map(String.init) ?? "?")'", start, start + 1)
        }
    }

    static func isIdentifierStart(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || c == UInt8(ascii: "_")
    }

    static func isIdentifierPart(_ c: UInt8) -> Bool {
        isIdentifierStart(c) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
    }

    mutating func identifier() -> Token {
        let start = offset
        var sawColon = false
        while let c = peek(), Self.isIdentifierPart(c) || c == UInt8(ascii: ":") {
            if c == UInt8(ascii: ":") {
                // `foo[5m:1m]`: a colon right after an identifier inside a subquery bracket is
                // handled by the parser; identifiers may contain colons (recording rules).
                sawColon = true
            }
            offset += 1
        }
        let word = text(start, offset)
        let range = PositionRange(start: start, end: offset)
        if !sawColon {
            let lower = word.lowercased()
            if let op = Self.keywords[lower] { return Token(kind: .op(op), text: lower, range: range) }
            if lower == "inf" || lower == "nan" { return Token(kind: .number, text: word, range: range) }
        }
        return Token(kind: sawColon ? .metricIdentifier : .identifier, text: word, range: range)
    }

    mutating func numberOrDuration() throws(ParseError) -> Token {
        let start = offset
        // Hexadecimal integer.
        if peek() == UInt8(ascii: "0"), let x = peek(1), x == UInt8(ascii: "x") || x == UInt8(ascii: "X") {
            offset += 2
            while let c = peek(), Self.isHexDigit(c) { offset += 1 }
            return Token(kind: .number, text: text(start, offset), range: PositionRange(start: start, end: offset))
        }
        var digits = 0
        while let c = peek(), Self.isDigit(c) { offset += 1; digits += 1 }
        // A duration: digits followed by a unit letter sequence like 1h30m or 500ms.
        if digits > 0, let c = peek(), Self.isDurationUnitStart(c) {
            var end = offset
            var ok = true
            var probe = start
            while probe < bytes.count, Self.isDigit(bytes[probe]) {
                while probe < bytes.count, Self.isDigit(bytes[probe]) { probe += 1 }
                guard let unitLength = Self.durationUnit(at: probe, in: bytes) else { ok = false; break }
                probe += unitLength
                end = probe
            }
            if ok, end > offset, end == bytes.count || !Self.isIdentifierPart(bytes[end]) {
                offset = end
                return Token(kind: .duration, text: text(start, offset), range: PositionRange(start: start, end: offset))
            }
        }
        if peek() == UInt8(ascii: ".") {
            offset += 1
            while let c = peek(), Self.isDigit(c) { offset += 1; digits += 1 }
        }
        if digits == 0 { throw error("bad number or duration syntax: \"\(text(start, offset))\"", start) }
        if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            var k = 1
            if let s = peek(1), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { k = 2 }
            if let d = peek(k), Self.isDigit(d) {
                offset += k
                while let c = peek(), Self.isDigit(c) { offset += 1 }
            }
        }
        if let c = peek(), Self.isIdentifierStart(c) {
            while let c = peek(), Self.isIdentifierPart(c) { offset += 1 }
            throw error("bad number or duration syntax: \"\(text(start, offset))\"", start)
        }
        return Token(kind: .number, text: text(start, offset), range: PositionRange(start: start, end: offset))
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
    static func isHexDigit(_ c: UInt8) -> Bool {
        isDigit(c) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F"))
    }
    static func isDurationUnitStart(_ c: UInt8) -> Bool { "smhdwy".utf8.contains(c) }

    /// Length of a duration unit (`ms`, `s`, `m`, `h`, `d`, `w`, `y`) at `i`, or nil.
    static func durationUnit(at i: Int, in bytes: [UInt8]) -> Int? {
        guard i < bytes.count else { return nil }
        if bytes[i] == UInt8(ascii: "m"), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "s") { return 2 }
        return isDurationUnitStart(bytes[i]) ? 1 : nil
    }

    /// A quoted string with Go's escapes (none inside backquotes).
    mutating func string() throws(ParseError) -> Token {
        let start = offset
        let quote = bytes[offset]
        offset += 1
        var out: [UInt8] = []
        while true {
            guard let c = peek() else { throw error("unterminated quoted string", start) }
            offset += 1
            if c == quote { break }
            if quote != UInt8(ascii: "`"), c == UInt8(ascii: "\n") { throw error("unterminated quoted string", start) }
            if quote == UInt8(ascii: "`") || c != UInt8(ascii: "\\") {
                out.append(c)
                continue
            }
            guard let e = peek() else { throw error("unterminated quoted string", start) }
            offset += 1
            switch e {
            case UInt8(ascii: "a"): out.append(7)
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "v"): out.append(11)
            case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "'"): out.append(e)
            case UInt8(ascii: "x"):
                guard let v = hex(2) else { throw error("invalid escape sequence in string", offset - 2) }
                out.append(UInt8(v))
            case UInt8(ascii: "u"), UInt8(ascii: "U"):
                guard let v = hex(e == UInt8(ascii: "u") ? 4 : 8), let scalar = Unicode.Scalar(v) else {
                    throw error("invalid escape sequence in string", offset - 2)
                }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                guard let d1 = peek(), let d2 = peek(1), (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(d1),
                    (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(d2)
                else {
                    throw error("invalid escape sequence in string", offset - 2)
                }
                offset += 2
                let v = Int(e - 48) * 64 + Int(d1 - 48) * 8 + Int(d2 - 48)
                guard v < 256 else { throw error("invalid escape sequence in string", offset - 4) }
                out.append(UInt8(v))
            default:
                throw error("unknown escape sequence \\\(Character(UnicodeScalar(e)))", offset - 2, offset)
            }
        }
        // Go strings may hold invalid UTF-8 (a label name built from it is refused at
        // evaluation); Swift strings cannot, so such bytes become U+FFFD.
        return Token(kind: .string, text: String(decoding: out, as: UTF8.self), range: PositionRange(start: start, end: offset))
    }

    mutating func hex(_ n: Int) -> UInt32? {
        var v: UInt32 = 0
        for _ in 0..<n {
            guard let c = peek(), Self.isHexDigit(c) else { return nil }
            v = v * 16 + UInt32(Self.isDigit(c) ? c - 48 : (c | 0x20) - 87)
            offset += 1
        }
        return v
    }
}
