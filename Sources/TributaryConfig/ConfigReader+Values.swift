import Foundation
import TributaryModel
import Yams

/// Typed scalars shared by the agent's, the receiver's and the remote-write readers.
extension ConfigReader {
    package func sequence(_ node: Node) throws(ConfigError) -> [Node] {
        guard case .sequence(let seq) = node else { throw error(node, "expected a list") }
        return Array(seq)
    }

    package func bool(_ node: Node) throws(ConfigError) -> Bool {
        let text = try string(node)
        switch text {
        case "true": return true
        case "false": return false
        default: throw error(node, "expected true or false, got \"\(text)\"")
        }
    }

    package func nonNegative(_ node: Node) throws(ConfigError) -> Int {
        let v = try int(node)
        guard v >= 0 else { throw error(node, "expected 0 or more, got \(v)") }
        return v
    }

    /// Prometheus's byte sizes: `0`, `512`, `10KB`, `100MB`, `1GB` (powers of 1024, as its units do).
    package func byteSize(_ node: Node) throws(ConfigError) -> Int {
        let text = try string(node)
        let units: [(String, Int)] = [("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("B", 1)]
        for (unit, factor) in units where text.hasSuffix(unit) {
            guard let n = Int(text.dropLast(unit.count)), n >= 0, n <= Int.max / factor else { break }
            return n * factor
        }
        guard let n = Int(text), n >= 0 else { throw error(node, "expected a size like 10MB, got \"\(text)\"") }
        return n
    }

    package func positiveDuration(_ node: Node) throws(ConfigError) -> Int64 {
        let ms = try duration(node)
        guard ms > 0 else { throw error(node, "expected a duration above 0") }
        return ms
    }

    /// A mapping of label names to values; names must be valid label names.
    package func labelSet(_ node: Node) throws(ConfigError) -> [String: String] {
        var out: [String: String] = [:]
        for (name, value) in try mapping(node, allowed: nil) {
            guard Relabeler.isLabelName(name) else { throw error(node, "invalid label name \"\(name)\"") }
            out[name] = try string(value)
        }
        return out
    }

    package func fileOrValue(_ m: [String: Node], _ key: String, _ fileKey: String) throws(ConfigError) -> String? {
        if let v = m[key] { return try string(v) }
        guard let f = m[fileKey] else { return nil }
        let path = try string(f)
        do {
            return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw self.error(f, "cannot read \(path): \(error.localizedDescription)")
        }
    }
}
