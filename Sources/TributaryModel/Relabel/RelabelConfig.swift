/// One `relabel_configs` / `metric_relabel_configs` / `write_relabel_configs` entry, with
/// Prometheus's defaults.
public struct RelabelConfig: Sendable, Equatable {
    public enum Action: String, Sendable, CaseIterable {
        case replace, keep, drop, labelmap, labeldrop, labelkeep, hashmod, lowercase, uppercase, keepequal, dropequal
    }

    public var sourceLabels: [String] = []
    public var separator = ";"
    public var regex: RelabelRegex
    public var modulus: UInt64 = 0
    public var targetLabel = ""
    public var replacement = "$1"
    public var action = Action.replace

    public init(regex: String = "(.*)") throws(RelabelRegex.Invalid) {
        self.regex = try RelabelRegex(regex)
    }

    /// Checks the combinations Prometheus refuses; nil when valid.
    public func problem() -> String? {
        switch action {
        case .replace, .hashmod, .lowercase, .uppercase, .keepequal, .dropequal:
            if targetLabel.isEmpty { return "relabel action \(action.rawValue) needs target_label" }
        default: break
        }
        if action == .hashmod, modulus == 0 { return "relabel action hashmod needs a modulus above 0" }
        if [.keepequal, .dropequal, .lowercase, .uppercase].contains(action), sourceLabels.isEmpty { return "relabel action \(action.rawValue) needs source_labels" }
        return nil
    }
}

/// A relabel regex: fully anchored as Prometheus anchors it, with capture groups for `$1`.
public struct RelabelRegex: @unchecked Sendable, Equatable {
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    public let source: String

    /// Regexes are equal when written the same.
    public static func == (a: RelabelRegex, b: RelabelRegex) -> Bool { a.source == b.source }
    let regex: Regex<AnyRegexOutput>
    /// `(.*)`, the default: matches everything and captures it, without running the engine.
    let matchesAll: Bool

    public init(_ source: String) throws(Invalid) {
        self.source = source
        matchesAll = source == "(.*)"
        do {
            regex = try Regex("^(?:" + source + ")$")
        } catch {
            throw Invalid(description: "invalid regex \"\(source)\": \(error)")
        }
    }

    public func matches(_ s: String) -> Bool {
        matchesAll || (try? regex.wholeMatch(in: s)) != nil
    }

    /// The capture groups of a whole match (group 0 is the whole string), or nil.
    func captures(_ s: String) -> [String?]? {
        if matchesAll { return [s, s] }
        guard let m = try? regex.wholeMatch(in: s) else { return nil }
        var out: [String?] = [s]
        for i in 1..<m.output.count {
            out.append(m.output[i].substring.map(String.init))
        }
        return out
    }
}
