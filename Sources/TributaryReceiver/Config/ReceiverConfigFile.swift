import Foundation
import TributaryConfig
import TributaryModel
import TributaryPromQL
import TributaryRemoteWrite
import TributaryTSDB
import TributaryWAL
import TributaryWire
import Yams

/// Reads `receiver.yml` (see configs/receiver.yml) into a ``ReceiverConfiguration``, starting
/// from the defaults; unknown keys and wrong types are errors with file, line and column.
public enum ReceiverConfigFile {
    public static func load(path: String) throws(ConfigError) -> ReceiverConfiguration {
        try parse(try ConfigReader.read(path: path), file: path)
    }

    public static func parse(_ text: String, file: String) throws(ConfigError) -> ReceiverConfiguration {
        let reader = ConfigReader(file: file)
        var c = ReceiverConfiguration()
        guard let root = try reader.compose(text) else { return c }
        let top = try reader.mapping(root, allowed: ["listen", "storage", "dedup", "limits", "auth", "tls", "remote_write", "external_labels", "query"])
        if let listen = top["listen"] {
            let address = try reader.listen(listen)
            c.host = address.host
            c.port = address.port
        }
        if let storage = top["storage"] {
            let s = try reader.mapping(
                storage,
                allowed: [
                    "path", "wal_fsync", "out_of_order_window", "memory_budget_bytes",
                    "retention_time", "retention_size", "block_duration", "forward_retention", "exemplars"
                ])
            if let v = s["forward_retention"] { c.forwardRetention = try reader.duration(v) }
            if let v = s["path"] { c.dataDirectory = try reader.string(v) }
            if let v = s["wal_fsync"] {
                let text = try reader.string(v)
                guard let policy = WAL.FsyncPolicy(rawValue: text) else { throw reader.error(v, "wal_fsync must be always or batch, got \"\(text)\"") }
                c.walFsync = policy
            }
            if let v = s["out_of_order_window"] { c.head.outOfOrderWindow = try reader.duration(v) }
            if let v = s["memory_budget_bytes"] { c.head.memoryBudget = try reader.int(v) }
            if let v = s["exemplars"] {
                let e = try reader.mapping(v, allowed: ["max_exemplars"])
                if let n = e["max_exemplars"] { c.head.maxExemplars = try reader.int(n) }
            }
            if let v = s["retention_time"] {
                c.storage.retentionTime = try reader.duration(v)
                guard c.storage.retentionTime >= 0 else { throw reader.error(v, "storage.retention_time must not be negative") }
            }
            if let v = s["retention_size"] { c.storage.retentionSize = try reader.bytes(v) }
            if let v = s["block_duration"] {
                c.storage.blockDuration = try reader.duration(v)
                guard c.storage.blockDuration >= 60_000, 86_400_000 % c.storage.blockDuration == 0 else {
                    throw reader.error(v, "storage.block_duration must be at least 1m and divide a day (2h is Prometheus's)")
                }
            }
        }
        if let dedup = top["dedup"] {
            let d = try reader.mapping(dedup, allowed: ["replica_labels", "window"])
            if let v = d["replica_labels"] { c.replicaLabels = try reader.strings(v) }
            if let v = d["window"] {
                c.dedupWindow = try reader.duration(v)
                guard c.dedupWindow >= 0 else { throw reader.error(v, "dedup.window must not be negative") }
            }
        }
        if let limits = top["limits"] {
            let l = try reader.mapping(
                limits,
                allowed: [
                    "max_body_bytes", "max_uncompressed_bytes", "max_series_per_request",
                    "max_labels_per_series", "max_label_name_length", "max_label_value_length"
                ])
            if let v = l["max_body_bytes"] { c.maxBodyBytes = try reader.positive(v) }
            if let v = l["max_uncompressed_bytes"] { c.decoder.maxUncompressedBytes = try reader.positive(v) }
            if let v = l["max_series_per_request"] { c.decoder.maxSeriesPerRequest = try reader.positive(v) }
            if let v = l["max_labels_per_series"] { c.decoder.labels.maxLabelsPerSeries = try reader.positive(v) }
            if let v = l["max_label_name_length"] { c.decoder.labels.maxNameLength = try reader.positive(v) }
            if let v = l["max_label_value_length"] { c.decoder.labels.maxValueLength = try reader.positive(v) }
        }
        if let auth = top["auth"] {
            let a = try reader.mapping(auth, allowed: ["write", "read"])
            if let v = a["write"] { c.auth.write = try reader.accessRule(v) }
            if let v = a["read"] { c.auth.read = try reader.accessRule(v) }
        }
        if let tls = top["tls"] {
            let t = try reader.mapping(tls, allowed: ["cert_file", "key_file", "client_ca_file"])
            guard let cert = t["cert_file"], let key = t["key_file"] else { throw reader.error(tls, "tls needs cert_file and key_file") }
            let files = TLSFiles(certFile: try reader.string(cert), keyFile: try reader.string(key), clientCAFile: try t["client_ca_file"].map { n throws(ConfigError) in try reader.string(n) })
            do {
                _ = try files.serverConfiguration()
            } catch {
                throw reader.error(error.file == files.keyFile ? key : error.file == files.certFile ? cert : t["client_ca_file"] ?? tls, error.message)
            }
            c.tls = files
        }
        if let list = top["remote_write"] { c.remoteWrites = try reader.remoteWrites(list) }
        if let v = top["external_labels"] { c.externalLabels = try reader.labelSet(v) }
        if let query = top["query"] {
            let q = try reader.mapping(query, allowed: ["max_concurrency", "results_cache", "results_cache_max_points", "slow_query_threshold", "max_samples", "timeout", "parallelism"])
            if let v = q["max_concurrency"] { c.queryMaxConcurrency = try reader.positive(v) }
            if let v = q["results_cache"] { c.queryResultsCache = try reader.bool(v) }
            if let v = q["results_cache_max_points"] { c.queryResultsCacheMaxPoints = try reader.nonNegative(v) }
            if let v = q["slow_query_threshold"] { c.slowQueryThreshold = try reader.positiveDuration(v) }
            if let v = q["max_samples"] { c.queryMaxSamples = try reader.positive(v) }
            if let v = q["timeout"] { c.queryTimeout = try reader.positiveDuration(v) }
            if let v = q["parallelism"] { c.queryParallelism = try reader.nonNegative(v) }
        }
        return c
    }
}

extension ConfigReader {
    /// `{bearer_tokens: [...], basic_users: {name: "$2b$…"}}`
    func accessRule(_ node: Node) throws(ConfigError) -> AccessRule {
        let m = try mapping(node, allowed: ["bearer_tokens", "basic_users"])
        var rule = AccessRule()
        if let v = m["bearer_tokens"] { rule.bearerTokens = try strings(v) }
        if let v = m["basic_users"] {
            for (user, hashNode) in try mapping(v, allowed: nil) {
                let hash = try string(hashNode)
                guard hash.hasPrefix("$2") else { throw error(hashNode, "basic_users.\(user) must be a bcrypt hash ($2b$…), as htpasswd -B makes") }
                rule.basicUsers[user] = hash
            }
        }
        return rule
    }
}
