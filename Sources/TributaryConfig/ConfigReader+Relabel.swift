import TributaryModel
import Yams

extension ConfigReader {
    /// `relabel_configs`, `metric_relabel_configs` and `write_relabel_configs` entries, each
    /// checked as Prometheus checks them.
    package func relabelConfigs(_ node: Node) throws(ConfigError) -> [RelabelConfig] {
        var out: [RelabelConfig] = []
        for item in try sequence(node) {
            let m = try mapping(item, allowed: ["source_labels", "separator", "regex", "modulus", "target_label", "replacement", "action"])
            let regex = try m["regex"].map { n throws(ConfigError) in try string(n) } ?? "(.*)"
            var c: RelabelConfig
            do throws(RelabelRegex.Invalid) {
                c = try RelabelConfig(regex: regex)
            } catch {
                throw self.error(m["regex"] ?? item, error.description)
            }
            if let v = m["source_labels"] { c.sourceLabels = try strings(v) }
            if let v = m["separator"] { c.separator = try string(v) }
            if let v = m["modulus"] { c.modulus = UInt64(try positive(v)) }
            if let v = m["target_label"] { c.targetLabel = try string(v) }
            if let v = m["replacement"] { c.replacement = try string(v) }
            if let v = m["action"] {
                let text = try string(v)
                guard let a = RelabelConfig.Action(rawValue: text.lowercased()) else {
                    throw error(v, "unknown relabel action \"\(text)\" (expected one of \(RelabelConfig.Action.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                c.action = a
            }
            if let problem = c.problem() { throw error(item, problem) }
            out.append(c)
        }
        return out
    }
}
