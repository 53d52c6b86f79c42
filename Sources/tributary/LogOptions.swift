import ArgumentParser
import Foundation
import Logging
import Synchronization

/// `--log.level` and `--log.format`, as Prometheus's flags: one line per event on standard
/// error, `logfmt` (`ts=… level=info msg="…" key=value`) or `json` (one object per line).
struct LogOptions: ParsableArguments {
    @Option(name: .customLong("log.level"), help: "Only log events at or above this level: debug, info, warn, error.")
    var level = "info"
    @Option(name: .customLong("log.format"), help: "Log line format: logfmt or json.")
    var format = "logfmt"

    func validate() throws {
        guard Self.levels[level] != nil else { throw ValidationError("--log.level \(level): expected debug, info, warn or error") }
        guard ["logfmt", "json"].contains(format) else { throw ValidationError("--log.format \(format): expected logfmt or json") }
    }

    static let levels: [String: Logger.Level] = ["debug": .debug, "info": .info, "warn": .warning, "error": .error]

    /// Sets up swift-log for the process (once, before the first logger is made).
    func bootstrap() {
        let level = Self.levels[level] ?? .info
        let json = format == "json"
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: level, json: json) }
    }
}

/// Writes each event as one line to standard error, in logfmt or JSON, with a UTC timestamp in
/// milliseconds, the level in Prometheus's words (`warn`, not `warning`), the message, the
/// logger's label as `component`, and the metadata sorted by key.
struct LineLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    let json: Bool
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, level: Logger.Level, json: Bool) {
        self.label = label
        self.logLevel = level
        self.json = json
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    static let output = Mutex(())

    func log(event: LogEvent) {
        var fields: [(String, String)] = [
            ("ts", Self.timestamp(Date())), ("level", Self.name(event.level)), ("component", label), ("msg", event.message.description)
        ]
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let explicit = event.metadata { merged.merge(explicit) { _, new in new } }
        if let error = event.error { merged["err"] = "\(error)" }
        for key in merged.keys.sorted() { fields.append((key, merged[key].map { "\($0)" } ?? "")) }
        var line = json ? Self.json(fields) : Self.logfmt(fields)
        line.append("\n")
        Self.output.withLock { _ in FileHandle.standardError.write(Data(line.utf8)) }
    }

    static func name(_ level: Logger.Level) -> String {
        switch level {
        case .trace, .debug: return "debug"
        case .info, .notice: return "info"
        case .warning: return "warn"
        case .error, .critical: return "error"
        }
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// `key=value` pairs; a value with a space, `=`, a quote or a control character, or an
    /// empty one, is quoted with Go's escapes.
    static func logfmt(_ fields: [(String, String)]) -> String {
        fields.map { key, value in
            let plain = !value.isEmpty && !value.unicodeScalars.contains { $0 == " " || $0 == "=" || $0 == "\"" || $0.value < 0x20 || $0 == "\\" }
            return key + "=" + (plain ? value : quoted(value))
        }.joined(separator: " ")
    }

    static func json(_ fields: [(String, String)]) -> String {
        "{" + fields.map { quoted($0.0) + ":" + quoted($0.1) }.joined(separator: ",") + "}"
    }

    /// A double-quoted string with `"`, `\` and control characters escaped (valid JSON and
    /// logfmt).
    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
