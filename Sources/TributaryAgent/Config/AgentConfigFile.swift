import Foundation
import TributaryConfig
import TributaryModel
import TributaryRemoteWrite
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
        // A stock prometheus.yml: what only a Prometheus server acts on is accepted and named.
        let notActedOn = ["rule_files", "alerting", "remote_read", "tracing"]
        let top = try r.mapping(root, allowed: Set(["global", "scrape_configs", "remote_write", "listen", "storage"] + notActedOn))
        for key in notActedOn.sorted() { if let node = top[key] { c.ignoredKeys.append("\(key) (line \(r.line(node)))") } }
        if let listen = top["listen"] {
            let address = try r.listen(listen)
            c.host = address.host
            c.port = address.port
        }
        if let storage = top["storage"] {
            // tsdb and exemplars are a Prometheus server's storage settings.
            let s = try r.mapping(storage, allowed: ["path", "retention", "tsdb", "exemplars"])
            for key in ["exemplars", "tsdb"] { if let node = s[key] { c.ignoredKeys.append("storage.\(key) (line \(r.line(node)))") } }
            if let v = s["path"] { c.dataDirectory = try r.string(v) }
            if let v = s["retention"] { c.retention = try r.positiveDuration(v) }
        }
        if let global = top["global"] {
            let g = try r.mapping(global, allowed: ["scrape_interval", "scrape_timeout", "external_labels", "evaluation_interval"])
            if let v = g["scrape_interval"] { c.scrapeInterval = try r.positiveDuration(v) }
            if let v = g["scrape_timeout"] { c.scrapeTimeout = try r.positiveDuration(v) }
            if let v = g["external_labels"] { c.externalLabels = try r.labelSet(v) }
            if let v = g["evaluation_interval"] { c.ignoredKeys.append("global.evaluation_interval (line \(r.line(v)))") }
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
            let directory = (file as NSString).deletingLastPathComponent
            for node in try r.sequence(list) {
                let sc = try r.scrapeConfig(node, defaults: c, directory: directory.isEmpty ? "." : directory)
                guard jobs.insert(sc.jobName).inserted else { throw r.error(node, "duplicate job_name \"\(sc.jobName)\"") }
                c.scrapeConfigs.append(sc)
            }
        }
        if let list = top["remote_write"] { c.remoteWrites = try r.remoteWrites(list) }
        return c
    }
}

extension ConfigReader {
    func scrapeConfig(_ node: Node, defaults: AgentConfiguration, directory: String) throws(ConfigError) -> ScrapeConfig {
        let m = try mapping(
            node,
            allowed: [
                "job_name", "scrape_interval", "scrape_timeout", "metrics_path", "scheme", "params",
                "honor_labels", "honor_timestamps", "basic_auth", "authorization", "tls_config",
                "relabel_configs", "metric_relabel_configs", "static_configs", "file_sd_configs",
                "body_size_limit", "sample_limit", "label_limit", "label_name_length_limit", "label_value_length_limit"
            ])
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
        if let v = m["file_sd_configs"] {
            for item in try sequence(v) {
                let f = try mapping(item, allowed: ["files", "refresh_interval"])
                var sd = FileSDConfig()
                guard let files = f["files"] else { throw error(item, "file_sd_configs entry needs files") }
                for pattern in try strings(files) {
                    guard [".json", ".yml", ".yaml"].contains(where: { pattern.hasSuffix($0) }) else {
                        throw error(files, "file_sd_configs file \"\(pattern)\" must end in .json, .yml or .yaml")
                    }
                    sd.files.append(pattern.hasPrefix("/") ? pattern : directory + "/" + pattern)
                }
                if let r = f["refresh_interval"] { sd.refreshInterval = try positiveDuration(r) }
                sc.fileSDConfigs.append(sd)
            }
        }
        return sc
    }

    /// The 1-based line of `node` (for messages that are not errors).
    func line(_ node: Node) -> Int { node.mark?.line ?? 0 }
}
