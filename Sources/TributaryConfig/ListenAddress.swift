import Foundation
import Yams

/// `HOST:PORT`, as `listen` keys and `--listen` flags spell it.
public struct ListenAddress: Sendable, Equatable {
    public var host: String
    public var port: Int

    /// Nil unless `text` is `HOST:PORT` with a port in 0…65535.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        host = String(text[..<colon])
        self.port = port
    }
}

extension ConfigReader {
    /// A config file's text, or an error naming the file.
    public static func read(path: String) throws(ConfigError) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, line: 0, column: 0, message: "cannot read the file: \(error.localizedDescription)")
        }
    }

    /// A `listen: HOST:PORT` value.
    public func listen(_ node: Node) throws(ConfigError) -> ListenAddress {
        let text = try string(node)
        guard let address = ListenAddress(text) else { throw error(node, "listen must be HOST:PORT, got \"\(text)\"") }
        return address
    }
}
