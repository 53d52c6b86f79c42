import Foundation

/// What a process (receiver or agent) shows of itself at `/api/v1/status/{runtimeinfo,flags,config}`
/// and on its pages: set by the command that runs it (the flags in effect, the configuration
/// file as loaded, the outcome of reloads).
public struct RuntimeStatus: Sendable {
    public var startTime = Date()
    /// Flag name (Prometheus's spelling, no dashes) → the value in effect.
    public var flags: [String: String] = [:]
    /// The configuration file's text as last loaded ("" when started without one).
    public var configYAML = ""
    public var lastConfigTime = Date()
    public var reloadConfigSuccess = true

    public init() {}

    /// A configuration loaded at start or by a successful reload.
    public mutating func configLoaded(yaml: String) {
        configYAML = yaml
        lastConfigTime = Date()
        reloadConfigSuccess = true
    }

    /// A reload that failed (the running configuration stays).
    public mutating func reloadFailed() {
        reloadConfigSuccess = false
    }

    /// `status/runtimeinfo`'s data, Prometheus's fields.
    public func runtimeInfo(storageRetention: String, dataDirectory: String) -> [String: Any] {
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return [
            "startTime": iso.string(from: startTime), "CWD": FileManager.default.currentDirectoryPath,
            "reloadConfigSuccess": reloadConfigSuccess, "lastConfigTime": iso.string(from: lastConfigTime), "corruptionCount": 0,
            "storageRetention": storageRetention, "dataDirectory": dataDirectory
        ]
    }
}

/// The version printed by `--version` and `status/buildinfo`.
public enum TributaryBuild {
    public static let version = "0.1.0"

    /// `status/buildinfo`'s data. The version is the Prometheus API it answers as (Grafana picks
    /// its features by it); the revision is ours.
    public static let buildInfo: [String: String] = [
        "version": "3.0.0", "revision": "tributary-\(version)", "branch": "main", "buildUser": "tributary", "buildDate": "", "goVersion": "swift"
    ]
}
