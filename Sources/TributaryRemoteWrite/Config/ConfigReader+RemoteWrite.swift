import Foundation
import TributaryConfig
import TributaryModel
import TributaryWire
import Yams

extension ConfigReader {
    /// `basic_auth`, `authorization` and `tls_config` of a scrape or remote-write entry.
    package func httpSettings(_ m: [String: Node]) throws(ConfigError) -> HTTPClientSettings {
        var h = HTTPClientSettings()
        if let v = m["basic_auth"] {
            let b = try mapping(v, allowed: ["username", "password", "password_file"])
            guard let user = b["username"] else { throw error(v, "basic_auth needs username") }
            h.basicAuth = (try string(user), try fileOrValue(b, "password", "password_file") ?? "")
        }
        if let v = m["authorization"] {
            let a = try mapping(v, allowed: ["type", "credentials", "credentials_file"])
            h.authorization = (try a["type"].map { n throws(ConfigError) in try string(n) } ?? "Bearer", try fileOrValue(a, "credentials", "credentials_file") ?? "")
            if h.basicAuth != nil { throw error(v, "basic_auth and authorization are mutually exclusive") }
        }
        if let v = m["tls_config"] {
            let t = try mapping(v, allowed: ["ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify"])
            h.tls.caFile = try t["ca_file"].map { n throws(ConfigError) in try string(n) }
            h.tls.certFile = try t["cert_file"].map { n throws(ConfigError) in try string(n) }
            h.tls.keyFile = try t["key_file"].map { n throws(ConfigError) in try string(n) }
            h.tls.serverName = try t["server_name"].map { n throws(ConfigError) in try string(n) }
            h.tls.insecureSkipVerify = try t["insecure_skip_verify"].map { n throws(ConfigError) in try bool(n) } ?? false
        }
        return h
    }

    /// A `remote_write` list (the agent's, and the receiver's for forwarding); names are unique.
    package func remoteWrites(_ list: Node) throws(ConfigError) -> [RemoteWriteConfig] {
        var out: [RemoteWriteConfig] = []
        var names = Set<String>()
        for (i, node) in try sequence(list).enumerated() {
            let rw = try remoteWrite(node, index: i)
            guard names.insert(rw.name).inserted else { throw error(node, "duplicate remote_write name \"\(rw.name)\"") }
            out.append(rw)
        }
        return out
    }

    /// One `remote_write` entry.
    package func remoteWrite(_ node: Node, index: Int) throws(ConfigError) -> RemoteWriteConfig {
        let m = try mapping(
            node,
            allowed: [
                "url", "name", "remote_timeout", "headers", "basic_auth", "authorization", "tls_config",
                "queue_config", "write_relabel_configs", "protobuf_message", "send_exemplars", "metadata_config"
            ])
        guard let urlNode = m["url"] else { throw error(node, "remote_write needs url") }
        let url = try string(urlNode)
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), URL(string: url)?.host != nil else { throw error(urlNode, "url must be an http:// or https:// URL, got \"\(url)\"") }
        var rw = RemoteWriteConfig(url: url, name: try m["name"].map { n throws(ConfigError) in try string(n) } ?? "rw\(index)")
        if let v = m["remote_timeout"] { rw.remoteTimeout = try positiveDuration(v) }
        if let v = m["headers"] {
            for (k, value) in try mapping(v, allowed: nil) { rw.headers[k] = try string(value) }
        }
        rw.http = try httpSettings(m)
        if let v = m["send_exemplars"] { rw.sendExemplars = try bool(v) }
        var asksForMetadata: Node?
        if let v = m["metadata_config"] {
            let meta = try mapping(v, allowed: ["send", "send_interval", "max_samples_per_send"])
            if let n = meta["send"] {
                rw.metadata.send = try bool(n)
                if rw.metadata.send { asksForMetadata = n }
            }
            if let n = meta["send_interval"] { rw.metadata.sendInterval = try positiveDuration(n) }
            if let n = meta["max_samples_per_send"] {
                let max = try int(n)
                guard max > 0 else { throw error(n, "metadata_config.max_samples_per_send must be positive, got \(max)") }
                rw.metadata.maxSamplesPerSend = max
            }
        }
        if let v = m["write_relabel_configs"] { rw.writeRelabelConfigs = try relabelConfigs(v) }
        if let v = m["protobuf_message"] {
            switch try string(v) {
            case "prometheus.WriteRequest": rw.version = .v1
            case "io.prometheus.write.v2.Request":
                rw.version = .v2
                // Remote write 2.0 has no metadata-only request (metadata rides on each series):
                // an explicit `send: true` is refused rather than quietly not honoured.
                if let asksForMetadata {
                    throw error(asksForMetadata, "metadata_config.send: true needs protobuf_message: prometheus.WriteRequest (remote write 2.0 sends no metadata requests); remove it or set send: false")
                }
            case let other: throw error(v, "protobuf_message must be prometheus.WriteRequest or io.prometheus.write.v2.Request, got \"\(other)\"")
            }
        }
        if let v = m["queue_config"] {
            let q = try mapping(
                v,
                allowed: [
                    "capacity", "max_shards", "min_shards", "max_samples_per_send", "batch_send_deadline",
                    "min_backoff", "max_backoff", "retry_on_http_429", "sample_age_limit"
                ])
            if let x = q["capacity"] { rw.queue.capacity = try positive(x) }
            if let x = q["max_shards"] { rw.queue.maxShards = try positive(x) }
            if let x = q["min_shards"] { rw.queue.minShards = try positive(x) }
            if let x = q["max_samples_per_send"] { rw.queue.maxSamplesPerSend = try positive(x) }
            if let x = q["batch_send_deadline"] { rw.queue.batchSendDeadline = try positiveDuration(x) }
            if let x = q["min_backoff"] { rw.queue.minBackoff = try positiveDuration(x) }
            if let x = q["max_backoff"] { rw.queue.maxBackoff = try positiveDuration(x) }
            if let x = q["retry_on_http_429"] { rw.queue.retryOnHTTP429 = try bool(x) }
            guard rw.queue.minShards <= rw.queue.maxShards else { throw error(v, "min_shards is above max_shards") }
        }
        return rw
    }
}
