import Foundation
import TributaryModel
import TributaryRemoteWrite

/// A target after `relabel_configs`: where to scrape and the labels its series get.
public struct ScrapeTarget: Sendable {
    public var job: String
    public var url: String
    /// `job`, `instance`, the static `labels` and what relabelling left (no `__` labels).
    public var labels: [String: String]
    public var config: ScrapeConfig
    /// The labels before `relabel_configs` (`__address__`, `__scheme__`, … and the group's),
    /// as `/api/v1/targets` shows them.
    public var discoveredLabels: [String: String] = [:]

    public var instance: String { labels["instance"] ?? "" }

    /// The targets of a scrape config, with `relabel_configs` applied as Prometheus does:
    /// `__address__`, `__scheme__`, `__metrics_path__`, `__param_*`, `job` and the static labels
    /// go in; a dropped set drops the target; `instance` defaults to `__address__`.
    public static func resolve(_ sc: ScrapeConfig) -> [ScrapeTarget] {
        resolveKeepingDropped(sc).targets
    }

    /// As ``resolve(_:)``, with the discovered labels of the targets relabelling dropped (or
    /// left without an address), which `/api/v1/targets` lists as Prometheus does.
    public static func resolveKeepingDropped(_ sc: ScrapeConfig) -> (targets: [ScrapeTarget], dropped: [[String: String]]) {
        var out: [ScrapeTarget] = []
        var dropped: [[String: String]] = []
        for group in sc.staticConfigs {
            for address in group.targets {
                var labels = group.labels
                labels["__address__"] = address
                labels["__scheme__"] = sc.scheme
                labels["__metrics_path__"] = sc.metricsPath
                labels["__scrape_interval__"] = formatDuration(sc.scrapeInterval)
                labels["__scrape_timeout__"] = formatDuration(sc.scrapeTimeout)
                labels["job"] = sc.jobName
                for (k, v) in sc.params { if let first = v.first { labels["__param_" + k] = first } }
                guard var final = Relabeler.process(labels, sc.relabelConfigs), let addr = final["__address__"], !addr.isEmpty else {
                    dropped.append(labels)
                    continue
                }
                if final["instance"] == nil { final["instance"] = addr }
                var query: [String] = []
                for (k, v) in final where k.hasPrefix("__param_") { query.append(percentEncode(String(k.dropFirst(8))) + "=" + percentEncode(v)) }
                let path = final["__metrics_path__"] ?? sc.metricsPath
                let url = (final["__scheme__"] ?? sc.scheme) + "://" + addr + path + (query.isEmpty ? "" : "?" + query.sorted().joined(separator: "&"))
                final = final.filter { !$0.key.hasPrefix("__") && !$0.value.isEmpty }
                out.append(ScrapeTarget(job: sc.jobName, url: url, labels: final, config: sc, discoveredLabels: labels))
            }
        }
        return (out, dropped)
    }

    static func formatDuration(_ ms: Int64) -> String {
        ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
    }

    /// RFC 3986's unreserved characters, the only ones a query parameter keeps as they are.
    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func percentEncode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? s
    }
}
