/// Applies relabel configs to a label set, as Prometheus's `relabel.Process` does.
public enum Relabeler {
    /// The relabelled labels, or nil when a `keep`/`drop` rule drops the set.
    public static func process(_ labels: [String: String], _ configs: [RelabelConfig]) -> [String: String]? {
        var labels = labels
        for c in configs {
            guard apply(c, &labels) else { return nil }
        }
        return labels
    }

    /// Applies one rule; false when it drops the set.
    static func apply(_ c: RelabelConfig, _ labels: inout [String: String]) -> Bool {
        let value = c.sourceLabels.map { labels[$0] ?? "" }.joined(separator: c.separator)
        switch c.action {
        case .drop:
            return !c.regex.matches(value)
        case .keep:
            return c.regex.matches(value)
        case .dropequal:
            return labels[c.targetLabel] != value
        case .keepequal:
            return labels[c.targetLabel] == value
        case .replace:
            guard let groups = c.regex.captures(value) else { return true }
            let target = expand(c.targetLabel, groups)
            guard isLabelName(target) else { return true }
            let result = expand(c.replacement, groups)
            if result.isEmpty { labels[target] = nil } else { labels[target] = result }
        case .lowercase:
            labels[c.targetLabel] = value.lowercased()
        case .uppercase:
            labels[c.targetLabel] = value.uppercased()
        case .hashmod:
            labels[c.targetLabel] = String(MD5.sum64(Array(value.utf8)) % c.modulus)
        case .labelmap:
            for (name, v) in labels {
                guard let groups = c.regex.captures(name) else { continue }
                let newName = expand(c.replacement, groups)
                if isLabelName(newName) { labels[newName] = v }
            }
        case .labeldrop:
            for name in labels.keys where c.regex.matches(name) { labels[name] = nil }
        case .labelkeep:
            for name in labels.keys where !c.regex.matches(name) { labels[name] = nil }
        }
        return true
    }

    /// Go's `Regexp.Expand`: `$1`, `${1}`, `$$`; an unknown or unmatched group is empty.
    /// Built as bytes and decoded once, so text outside the groups keeps its UTF-8 (`é` stays
    /// `é`, not one character per byte).
    static func expand(_ template: String, _ groups: [String?]) -> String {
        guard template.utf8.contains(UInt8(ascii: "$")) else { return template }
        var out: [UInt8] = []
        let chars = Array(template.utf8)
        var i = 0
        while i < chars.count {
            guard chars[i] == UInt8(ascii: "$"), i + 1 < chars.count else { out.append(chars[i]); i += 1; continue }
            if chars[i + 1] == UInt8(ascii: "$") { out.append(UInt8(ascii: "$")); i += 2; continue }
            var j = i + 1
            var name: [UInt8] = []
            if chars[j] == UInt8(ascii: "{") {
                j += 1
                while j < chars.count, chars[j] != UInt8(ascii: "}") { name.append(chars[j]); j += 1 }
                guard j < chars.count else { out.append(contentsOf: chars[i...]); break }
                j += 1
            } else {
                while j < chars.count, chars[j] == UInt8(ascii: "_") || (chars[j] | 0x20) &- UInt8(ascii: "a") < 26 || chars[j] &- UInt8(ascii: "0") < 10 {
                    name.append(chars[j]); j += 1
                }
            }
            guard !name.isEmpty else { out.append(UInt8(ascii: "$")); i += 1; continue }
            if let n = Int(String(decoding: name, as: UTF8.self)), n < groups.count, let group = groups[n] { out.append(contentsOf: group.utf8) }
            i = j
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
    public static func isLabelName(_ s: String) -> Bool {
        Array(s.utf8).withUnsafeBytes { CharacterClass.isLabelName($0) } && !s.isEmpty
    }
}
