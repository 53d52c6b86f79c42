import Testing
import TributaryModel

@Suite struct MatcherTests {
    static let cases: [(Matcher.MatchType, String, String, Bool)] = [
        (.equal, "node", "node", true),
        (.equal, "node", "nodes", false),
        (.equal, "", "", true),
        (.notEqual, "node", "x", true),
        (.notEqual, "node", "node", false),
        (.regexMatch, "lab-1|lab-2", "lab-2", true),
        (.regexMatch, "lab-1|lab-2", "lab-12", false),
        (.regexMatch, "lab-1|lab-2", "", false),
        (.regexMatch, "(lab-1|lab-2)", "lab-1", true),
        (.regexMatch, "a\\.b", "a.b", true),
        (.regexMatch, "a\\.b", "axb", false),
        (.regexMatch, "lab-.*", "lab-9", true),
        (.regexMatch, "lab-.*", "xlab-9", false),
        (.regexMatch, ".*:9100", "host:9100", true),
        (.regexMatch, ".*:9100", "host:9101", false),
        (.regexMatch, ".*ode.*", "node", true),
        (.regexMatch, ".*ode.*", "nod", false),
        (.regexMatch, ".*", "", true),
        (.regexMatch, ".+", "", false),
        (.regexMatch, ".+", "x", true),
        (.regexMatch, "a|", "", true),
        (.regexMatch, "[0-9]+", "123", true),
        (.regexMatch, "[0-9]+", "12a", false),
        (.regexMatch, "foo", "foobar", false),  // anchored
        (.regexMatch, "b.r", "foobar", false),  // anchored, general engine
        (.regexMatch, "x.y", "x\ny", true),  // `.` matches newline
        (.regexMatch, "(?i)NODE", "node", true),
        (.regexMatch, "ü+", "üü", true),
        (.regexNoMatch, "lab-.*", "lab-1", false),
        (.regexNoMatch, "lab-.*", "web", true),
        (.regexNoMatch, "", "", false)
    ]

    @Test(arguments: cases)
    func matches(_ c: (Matcher.MatchType, String, String, Bool)) throws {
        let matcher = try Matcher(c.0, "l", c.1)
        #expect(matcher.matches(c.2) == c.3, "\(matcher) on \"\(c.2)\"")
    }

    @Test func literalAlternativesAreExposedForIndexLookups() throws {
        #expect(try Matcher(.regexMatch, "group", "lab-1|lab-2").literalAlternatives == ["lab-1", "lab-2"])
        #expect(try Matcher(.regexMatch, "group", "lab-.*").literalAlternatives == nil)
        #expect(try Matcher(.regexNoMatch, "group", "a|b").literalAlternatives == nil)
    }

    @Test func badRegexIsAnErrorNamingThePattern() {
        #expect(throws: MatcherError.self) { try Matcher(.regexMatch, "l", "a(b") }
        do {
            _ = try Matcher(.regexMatch, "l", "[z-a]")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("[z-a]"))
        }
    }

    @Test func description() throws {
        #expect(try Matcher(.regexMatch, "job", "a\"b").description == #"job=~"a\"b""#)
    }
}
