import Foundation
import Synchronization
import TributaryConfig
import TributaryModel

#if canImport(Glibc)
    import Glibc
#endif

/// `file_sd_configs`, as Prometheus reads them: each matching file (JSON or YAML) holds a list
/// of `{targets: [HOST:PORT, …], labels: {…}}` groups; each group also gets
/// `__meta_filepath`. A file that cannot be read or parsed keeps the groups it had (and the
/// error is logged with file and line); a file that disappears takes its groups with it.
///
/// Concurrency: the discovered groups sit behind a mutex; ``refresh(_:now:)`` runs on one
/// task at a time (the ``FileDiscoveryService``, and reloads).
public final class FileDiscovery: Sendable {
    struct FileState: Equatable {
        var modified: Double
        var size: Int
        var groups: [StaticConfig]
    }

    struct State {
        /// By file path.
        var files: [String: FileState] = [:]
        /// When each job's files were last read whole (for `refresh_interval`).
        var lastFullRead: [String: Double] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// The groups the files of `sd` hold now (as last read).
    func groups(_ sd: FileSDConfig) -> [StaticConfig] {
        let paths = Self.expand(sd.files)
        return state.withLock { s in paths.flatMap { s.files[$0]?.groups ?? [] } }
    }

    /// Reads the files of every `file_sd_configs` of `configs` that changed (size or
    /// modification time), appeared or disappeared, and all of them once their
    /// `refresh_interval` passed. Returns true when any group changed, and the errors met
    /// (one line each, with file and line).
    func refresh(_ configs: [ScrapeConfig], now: Double = Date().timeIntervalSince1970) -> (changed: Bool, errors: [String]) {
        var changed = false
        var errors: [String] = []
        var seen = Set<String>()
        for sc in configs {
            for (k, sd) in sc.fileSDConfigs.enumerated() {
                let key = "\(sc.jobName)/\(k)"
                let due = state.withLock { now - ($0.lastFullRead[key] ?? 0) >= Double(sd.refreshInterval) / 1000 }
                if due { state.withLock { $0.lastFullRead[key] = now } }
                for path in Self.expand(sd.files) {
                    seen.insert(path)
                    var st = stat()
                    guard stat(path, &st) == 0 else { continue }
                    let modified = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
                    let size = Int(st.st_size)
                    let known = state.withLock { $0.files[path] }
                    if !due, let known, known.modified == modified, known.size == size { continue }
                    do {
                        let groups = try Self.read(path)
                        let fresh = FileState(modified: modified, size: size, groups: groups)
                        if known?.groups != groups { changed = true }
                        state.withLock { $0.files[path] = fresh }
                    } catch {
                        errors.append(error.description)
                        // Keep the groups it had; read it again when it changes.
                        state.withLock { $0.files[path] = FileState(modified: modified, size: size, groups: known?.groups ?? []) }
                    }
                }
            }
        }
        state.withLock { s in
            for path in s.files.keys where !seen.contains(path) {
                if !(s.files[path]?.groups.isEmpty ?? true) { changed = true }
                s.files[path] = nil
            }
        }
        return (changed, errors)
    }

    /// Paths matching the glob patterns, sorted, each once.
    static func expand(_ patterns: [String]) -> [String] {
        var out = Set<String>()
        for pattern in patterns {
            var g = glob_t()
            defer { globfree(&g) }
            guard glob(pattern, 0, nil, &g) == 0 else { continue }
            for i in 0..<Int(g.gl_pathc) {
                if let p = g.gl_pathv[i] { out.insert(String(cString: p)) }
            }
        }
        return out.sorted()
    }

    /// The groups of one file (JSON is YAML, so one reader takes both).
    static func read(_ path: String) throws(ConfigError) -> [StaticConfig] {
        let text = try ConfigReader.read(path: path)
        let r = ConfigReader(file: path)
        guard let root = try r.compose(text) else { return [] }
        var out: [StaticConfig] = []
        for item in try r.sequence(root) {
            let m = try r.mapping(item, allowed: ["targets", "labels"])
            var group = StaticConfig()
            if let t = m["targets"] {
                group.targets = try r.strings(t)
                for target in group.targets where target.isEmpty || target.contains("/") {
                    throw r.error(t, "target \"\(target)\" must be HOST:PORT")
                }
            }
            if let l = m["labels"] { group.labels = try r.labelSet(l) }
            group.labels["__meta_filepath"] = path
            out.append(group)
        }
        return out
    }
}
