import TributaryModel
import Yams

/// Typed access to YAML nodes, with errors that carry the node's position.
public struct ConfigReader {
    public let file: String

    public init(file: String) {
        self.file = file
    }

    public func error(_ node: Node?, _ message: String) -> ConfigError {
        ConfigError(file: file, line: node?.mark?.line ?? 0, column: node?.mark?.column ?? 0, message: message)
    }

    /// Parses `text` into nodes. Scalars keep their text and are typed by the reader's
    /// accessors, so no implicit tags are resolved (`Resolver.basic`): Yams's default resolver
    /// compiles its patterns with NSRegularExpression, which loads ICU's regex engine and
    /// property data into every process that reads a config.
    public func compose(_ text: String) throws(ConfigError) -> Node? {
        do {
            return try Yams.compose(yaml: text, .basic)
        } catch let YamlError.scanner(_, problem, mark, _), let YamlError.parser(_, problem, mark, _),
            let YamlError.composer(_, problem, mark, _)
        {
            throw ConfigError(file: file, line: mark.line, column: mark.column, message: "invalid YAML: \(problem)")
        } catch let YamlError.duplicatedKeysInMapping(duplicates, context) {
            throw ConfigError(
                file: file, line: context.mark.line, column: context.mark.column,
                message: "duplicate key \(duplicates.map { "\"\($0)\"" }.joined(separator: ", ")) in this mapping")
        } catch {
            throw ConfigError(file: file, line: 0, column: 0, message: "invalid YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
    }

    /// The keys of a mapping; keys outside `allowed` (when given) are errors.
    public func mapping(_ node: Node, allowed: Set<String>?) throws(ConfigError) -> [String: Node] {
        guard case .mapping(let m) = node else { throw error(node, "expected a mapping") }
        var out: [String: Node] = [:]
        for (key, value) in m {
            guard case .scalar(let k) = key else { throw error(key, "expected a key") }
            if let allowed, !allowed.contains(k.string) {
                throw error(key, "unknown key \"\(k.string)\" (expected one of \(allowed.sorted().joined(separator: ", ")))")
            }
            guard out[k.string] == nil else { throw error(key, "duplicate key \"\(k.string)\"") }
            out[k.string] = value
        }
        return out
    }

    public func string(_ node: Node) throws(ConfigError) -> String {
        guard case .scalar(let s) = node else { throw error(node, "expected a string") }
        return s.string
    }

    public func strings(_ node: Node) throws(ConfigError) -> [String] {
        guard case .sequence(let seq) = node else { throw error(node, "expected a list of strings") }
        var out: [String] = []
        for item in seq { out.append(try string(item)) }
        return out
    }

    public func int(_ node: Node) throws(ConfigError) -> Int {
        let text = try string(node)
        guard let v = Int(text) else { throw error(node, "expected an integer, got \"\(text)\"") }
        return v
    }

    public func positive(_ node: Node) throws(ConfigError) -> Int {
        let v = try int(node)
        guard v > 0 else { throw error(node, "expected a positive integer, got \(v)") }
        return v
    }

    /// A size (`512MB`, `10GB`, plain bytes), in bytes (see ``ByteSize``).
    public func bytes(_ node: Node) throws(ConfigError) -> Int {
        let text = try string(node)
        guard let n = ByteSize.parse(text) else { throw error(node, "expected a size like 512MB or 10GB, got \"\(text)\"") }
        return n
    }

    /// A Prometheus duration (`15s`, `1h30m`, `0`), in milliseconds.
    public func duration(_ node: Node) throws(ConfigError) -> Int64 {
        let text = try string(node)
        guard let ms = PrometheusDuration.parse(text) else { throw error(node, "expected a duration like 15s or 1h30m, got \"\(text)\"") }
        return ms
    }
}
