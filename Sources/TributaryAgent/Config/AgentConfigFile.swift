import Foundation
import TributaryConfig
import TributaryModel
import TributaryWire
import Yams

/// Reads `agent.yml`, a `prometheus.yml` limited to the keys ARCHITECTURE.md lists (so such a
/// `prometheus.yml` works unchanged), plus `listen` and `storage` of our own. Unknown keys and
/// wrong types are errors with file, line and column.
public enum AgentConfigFile {
    public static func load(path: String) throws(ConfigError) -> AgentConfiguration {
        try parse(try ConfigReader.read(path: path), file: path)
    }

    public static func parse(_ text: String, file: String) throws(ConfigError) -> AgentConfiguration {
        let r = ConfigReader(file: file)
        var c = AgentConfiguration()
        guard let root = try r.compose(text) else { return c }
        let top = try r.mapping(root, allowed: ["global", "scrape_configs", "remote_write", "listen", "storage"])
        if let listen = top["listen"] {
            let address = try r.listen(listen)
            c.host = address.host
            c.port = address.port
        }
        if let storage = top["storage"] {
            let s = try r.mapping(storage, allowed: ["path", "retention"])
            if let v = s["path"] { c.dataDirectory = try r.string(v) }
            if let v = s["retention"] { c.retention = try r.positiveDuration(v) }
        }
        if let global = top["global"] {
            let g = try r.mapping(global, allowed: ["scrape_interval", "scrape_timeout", "external_labels", "evaluation_interval"])
            if let v = g["scrape_interval"] { c.scrapeInterval = try r.positiveDuration(v) }
            if let v = g["scrape_timeout"] { c.scrapeTimeout = try r.positiveDuration(v) }
            if let v = g["external_labels"] { c.externalLabels = try r.labelSet(v) }
        }
        if c.scrapeTimeout > c.scrapeInterval {
            // As Prometheus: an explicit timeout longer than the interval is an error; the
            // default one shrinks to the interval.
            if let g = top["global"], let t = try r.mapping(g, allowed: nil)["scrape_timeout"] {
                throw r.error(t, "global.scrape_timeout (\(c.scrapeTimeout) ms) is longer than global.scrape_interval (\(c.scrapeInterval) ms)")
            }
            c.scrapeTimeout = c.scrapeInterval
        }
        if let list = top["scrape_configs"] {
            var jobs = Set<String>()
            for node in try r.sequence(list) {
                let sc = try r.scrapeConfig(node, defaults: c)
                guard jobs.insert(sc.jobName).inserted else { throw r.error(node, "duplicate job_name \"\(sc.jobName)\"") }
                c.scrapeConfigs.append(sc)
            }
        }
        if let list = top["remote_write"] { c.remoteWrites = try r.remoteWrites(list) }
        return c
    }
}

extension ConfigReader {
    public func sequence(_ node: Node) throws(ConfigError) -> [Node] {
        guard case .sequence(let seq) = node else { throw error(node, "expected a list") }
        return Array(seq)
    }

    func bool(_ node: Node) throws(ConfigError) -> Bool {
        let text = try string(node)
        switch text {
        case "true": return true
        case "false": return false
        default: throw error(node, "expected true or false, got \"\(text)\"")
        }
    }

    func nonNegative(_ node: Node) throws(ConfigError) -> Int {
        let v = try int(node)
        guard v >= 0 else { throw error(node, "expected 0 or more, got \(v)") }
        return v
    }

    /// Prometheus's byte sizes: `0`, `512`, `10KB`, `100MB`, `1GB` (powers of 1024, as its units do).
    func byteSize(_ node: Node) throws(ConfigError) -> Int {
        let text = try string(node)
        let units: [(String, Int)] = [("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("B", 1)]
        for (unit, factor) in units where text.hasSuffix(unit) {
            guard let n = Int(text.dropLast(unit.count)), n >= 0, n <= Int.max / factor else { break }
            return n * factor
        }
        guard let n = Int(text), n >= 0 else { throw error(node, "expected a size like 10MB, got \"\(text)\"") }
        return n
    }

    func positiveDuration(_ node: Node) throws(ConfigError) -> Int64 {
        let ms = try duration(node)
        guard ms > 0 else { throw error(node, "expected a duration above 0") }
        return ms
    }

    /// A mapping of label names to values; names must be valid label names.
    func labelSet(_ node: Node) throws(ConfigError) -> [String: String] {
        var out: [String: String] = [:]
        for (name, value) in try mapping(node, allowed: nil) {
            guard Relabeler.isLabelName(name) else { throw error(node, "invalid label name \"\(name)\"") }
            out[name] = try string(value)
        }
        return out
    }

    func fileOrValue(_ m: [String: Node], _ key: String, _ fileKey: String) throws(ConfigError) -> String? {
        if let v = m[key] { return try string(v) }
        guard let f = m[fileKey] else { return nil }
        let path = try string(f)
        do {
            return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw self.error(f, "cannot read \(path): \(error.localizedDescription)")
        }
    }

    func httpSettings(_ m: [String: Node]) throws(ConfigError) -> HTTPClientSettings {
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

    func relabelConfigs(_ node: Node) throws(ConfigError) -> [RelabelConfig] {
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

    func scrapeConfig(_ node: Node, defaults: AgentConfiguration) throws(ConfigError) -> ScrapeConfig {
        let m = try mapping(node, allowed: ["job_name", "scrape_interval", "scrape_timeout", "metrics_path", "scheme", "params",
                                            "honor_labels", "honor_timestamps", "basic_auth", "authorization", "tls_config",
                                            "relabel_configs", "metric_relabel_configs", "static_configs",
                                            "body_size_limit", "sample_limit", "label_limit", "label_name_length_limit", "label_value_length_limit"])
        guard let jobNode = m["job_name"] else { throw error(node, "scrape config needs job_name") }
        let interval = try m["scrape_interval"].map { n throws(ConfigError) in try positiveDuration(n) } ?? defaults.scrapeInterval
        // As Prometheus: the global timeout, capped at this job's interval when that is shorter.
        let timeout = try m["scrape_timeout"].map { n throws(ConfigError) in try positiveDuration(n) } ?? min(defaults.scrapeTimeout, interval)
        guard timeout <= interval else { throw error(m["scrape_timeout"] ?? node, "scrape_timeout (\(timeout) ms) is longer than scrape_interval (\(interval) ms)") }
        var sc = ScrapeConfig(jobName: try string(jobNode), scrapeInterval: interval, scrapeTimeout: timeout)
        if let v = m["metrics_path"] { sc.metricsPath = try string(v) }
        if let v = m["scheme"] {
            sc.scheme = try string(v)
            guard sc.scheme == "http" || sc.scheme == "https" else { throw error(v, "scheme must be http or https") }
        }
        if let v = m["params"] {
            for (k, values) in try mapping(v, allowed: nil) { sc.params[k] = try strings(values) }
        }
        if let v = m["honor_labels"] { sc.honorLabels = try bool(v) }
        if let v = m["honor_timestamps"] { sc.honorTimestamps = try bool(v) }
        if let v = m["body_size_limit"] { sc.limits.bodySizeLimit = try byteSize(v) }
        if let v = m["sample_limit"] { sc.limits.sampleLimit = try nonNegative(v) }
        if let v = m["label_limit"] { sc.limits.labelLimit = try nonNegative(v) }
        if let v = m["label_name_length_limit"] { sc.limits.labelNameLengthLimit = try nonNegative(v) }
        if let v = m["label_value_length_limit"] { sc.limits.labelValueLengthLimit = try nonNegative(v) }
        sc.http = try httpSettings(m)
        if let v = m["relabel_configs"] { sc.relabelConfigs = try relabelConfigs(v) }
        if let v = m["metric_relabel_configs"] { sc.metricRelabelConfigs = try relabelConfigs(v) }
        if let v = m["static_configs"] {
            for item in try sequence(v) {
                let s = try mapping(item, allowed: ["targets", "labels"])
                var st = StaticConfig()
                if let t = s["targets"] {
                    st.targets = try strings(t)
                    for target in st.targets where target.isEmpty || target.contains("/") {
                        throw error(t, "target \"\(target)\" must be HOST:PORT (the path goes in metrics_path)")
                    }
                }
                if let l = s["labels"] { st.labels = try labelSet(l) }
                sc.staticConfigs.append(st)
            }
        }
        return sc
    }

    /// A `remote_write` list (the agent's, and the receiver's for forwarding); names are unique.
    public func remoteWrites(_ list: Node) throws(ConfigError) -> [RemoteWriteConfig] {
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
    public func remoteWrite(_ node: Node, index: Int) throws(ConfigError) -> RemoteWriteConfig {
        let m = try mapping(node, allowed: ["url", "name", "remote_timeout", "headers", "basic_auth", "authorization", "tls_config",
                                            "queue_config", "write_relabel_configs", "protobuf_message", "send_exemplars", "metadata_config"])
        guard let urlNode = m["url"] else { throw error(node, "remote_write needs url") }
        let url = try string(urlNode)
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), URL(string: url)?.host != nil else { throw error(urlNode, "url must be an http:// or https:// URL, got \"\(url)\"") }
        var rw = RemoteWriteConfig(url: url, name: try m["name"].map { n throws(ConfigError) in try string(n) } ?? "rw\(index)")
        if let v = m["remote_timeout"] { rw.remoteTimeout = try positiveDuration(v) }
        if let v = m["headers"] {
            for (k, value) in try mapping(v, allowed: nil) { rw.headers[k] = try string(value) }
        }
        rw.http = try httpSettings(m)
        if let v = m["write_relabel_configs"] { rw.writeRelabelConfigs = try relabelConfigs(v) }
        if let v = m["protobuf_message"] {
            switch try string(v) {
            case "prometheus.WriteRequest": rw.version = .v1
            case "io.prometheus.write.v2.Request": rw.version = .v2
            case let other: throw error(v, "protobuf_message must be prometheus.WriteRequest or io.prometheus.write.v2.Request, got \"\(other)\"")
            }
        }
        if let v = m["queue_config"] {
            let q = try mapping(v, allowed: ["capacity", "max_shards", "min_shards", "max_samples_per_send", "batch_send_deadline",
                                             "min_backoff", "max_backoff", "retry_on_http_429", "sample_age_limit"])
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
