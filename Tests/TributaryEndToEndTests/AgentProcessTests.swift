import Foundation
import Testing
import TributaryTestSupport

/// The real binaries: our `tributary agent` and `tributary receive`, Debian's
/// prometheus-node-exporter, prometheus and victoria-metrics, on loopback ports.
@Suite(.serialized) struct AgentProcessTests {
    static func agentConfig(port: Int, dir: String, replica: String, node: Int, interval: String = "500ms", writes: [String], extra: String = "") -> String {
        """
        listen: 127.0.0.1:\(port)
        storage: {path: \(dir)/agent}
        global:
          scrape_interval: \(interval)
          external_labels: {replica: \(replica)}
        scrape_configs:
          - job_name: node
            static_configs: [{targets: ["127.0.0.1:\(node)"], labels: {group: lab-1}}]
        remote_write:
        \(writes.map { "  - url: \($0)\n    queue_config: {batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 500ms}" + extra }.joined(separator: "\n"))
        """
    }

    /// One agent of an HA pair in `group`: scrapes each job's one target every 500 ms and
    /// writes to the receiver on `receiverPort`.
    static func haAgentConfig(port: Int, dir: String, replica: String, receiverPort: Int, jobs: [(name: String, target: String)], group: String = "lab-1") -> String {
        let scrapes = jobs.map { "  - {job_name: \($0.name), static_configs: [{targets: [\"\($0.target)\"], labels: {group: \(group)}}]}" }.joined(separator: "\n")
        return """
            listen: 127.0.0.1:\(port)
            storage: {path: \(dir)/agent}
            global: {scrape_interval: 500ms, external_labels: {replica: \(replica)}}
            scrape_configs:
            \(scrapes)
            remote_write:
              - url: http://127.0.0.1:\(receiverPort)/api/v1/write
                queue_config: {batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 500ms}
            """
    }

    /// Runs a test body on a plain thread (it blocks on processes and sockets); its checks are
    /// reported to the test afterwards.
    static func onThread(_ body: @escaping @Sendable (Checks) throws -> Void) async throws {
        let check = Checks()
        defer { check.report { Issue.record(Comment(rawValue: $0)) } }
        try await offPool { try body(check) }
    }

    /// Debian's prometheus as a remote-write receiver.
    static func prometheusReceiver() throws -> PeerProcess {
        try PeerProcess("prometheus", readyPath: "/-/ready") { port, dir in
            try "global: {}\n".write(toFile: dir + "/p.yml", atomically: true, encoding: .utf8)
            return ["--config.file=\(dir)/p.yml", "--storage.tsdb.path=\(dir)/data", "--web.listen-address=127.0.0.1:\(port)", "--web.enable-remote-write-receiver"]
        }
    }

    /// Debian's victoria-metrics, answering what it was just sent (no latency offset, no cache).
    static func victoriaMetrics() throws -> PeerProcess {
        try PeerProcess("victoria-metrics", readyPath: "/health") { port, dir in
            ["-httpListenAddr=127.0.0.1:\(port)", "-storageDataPath=\(dir)/vm", "-search.latencyOffset=0s", "-search.disableCache"]
        }
    }

    static func node() throws -> PeerProcess {
        try PeerProcess("prometheus-node-exporter") { port, _ in ["--web.listen-address=127.0.0.1:\(port)"] }
    }

    static func agent(_ config: (Int, String) -> String, port: Int? = nil, dir: String? = nil) throws -> PeerProcess {
        try PeerProcess("tributary", port: port, dir: dir, readyPath: "/-/ready") { port, dir in
            try config(port, dir).write(toFile: dir + "/agent.yml", atomically: true, encoding: .utf8)
            return ["agent", "--config", dir + "/agent.yml"]
        }
    }

    static func receiver(port: Int? = nil, dir: String? = nil, window: String = "0s") throws -> PeerProcess {
        try PeerProcess("tributary", port: port, dir: dir, readyPath: "/-/ready") { port, dir in
            ["receive", "--listen", "127.0.0.1:\(port)", "--data-dir", dir + "/receiver", "--dedup-window", window]
        }
    }

    /// The agent's `up` samples for job node at a receiver, over the last few minutes.
    static func upSamples(_ base: String) throws -> [(Int64, Double)] {
        try rawSamples(base, "up{job=\"node\"}[10m]").values.first ?? []
    }

    /// Samples one scrape of job node writes: node_exporter's series plus the five synthetic ones.
    static func samplesPerScrape(_ base: String) throws -> Double {
        let json = try httpJSON(base + "/api/v1/query?query=max(scrape_samples_post_metric_relabeling%7Bjob%3D%22node%22%7D)")
        let value = (((json["data"] as? [String: Any])?["result"] as? [[String: Any]])?.first?["value"] as? [Any])?.last as? String
        return (value.flatMap(Double.init) ?? 0) + 5
    }

    static func waitDelivered(_ agent: PeerProcess, seconds: Double = 15) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let m = try httpGet("http://127.0.0.1:\(agent.port)/metrics")
            // Every queue's newest sent sample is recent (one line per remote_write url).
            let sent = exposedValues(m, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds")
            let now = Date().timeIntervalSince1970
            if !sent.isEmpty, sent.allSatisfy({ $0 > now - 1.5 }), exposedValue(m, "prometheus_remote_storage_samples_pending") == 0 { return }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw TestFailure("the agent did not catch up within \(seconds) s:\n\(agent.output.suffix(1500))")
    }

    /// Each replica's sample timestamps for `selector` at a prometheus that both agents of an HA
    /// pair also write to (it keeps their `replica` label): keyed like the deduplicated series.
    static func sentByReplica(_ prom: PeerProcess, _ selector: String) throws -> [String: [[Int64]]] {
        var out: [String: [[Int64]]] = [:]
        for (series, samples) in try rawSamples("http://127.0.0.1:\(prom.port)", selector) {
            let key = series.replacingOccurrences(of: #",replica="a""#, with: "").replacingOccurrences(of: #",replica="b""#, with: "")
            out[key, default: []].append(samples.map(\.0))
        }
        return out
    }

    /// How many samples the dedup rule (`Docs/dedup.md`) keeps of what the replicas sent
    /// (`replicas`, one list of timestamps each), walked in time order from `first` (the first
    /// stored) to `last`: a sample is kept when it is at least half an interval after the last
    /// one kept, if the same replica sent that one, or 0.55 of an interval, if the other did.
    static func keptByDedupRule(_ replicas: [[Int64]], interval: Int64, from first: Int64, to last: Int64) -> Int {
        let sent = replicas.enumerated().flatMap { replica, times in times.map { (t: $0, replica: replica) } }.sorted { $0.t < $1.t }
        var kept = 0
        var lastKept = Int64.min
        var follows = -1
        for sample in sent where sample.t >= first && sample.t <= last {
            if lastKept != .min {
                let spacing = sample.t - lastKept
                guard spacing > 0 else { continue }
                if sample.replica == follows ? 2 * spacing < interval : 20 * spacing < 11 * interval { continue }
            }
            kept += 1
            lastKept = sample.t
            follows = sample.replica
        }
        return kept
    }

    /// What HA dedup promises, judged against what the two replicas really sent (so a host that
    /// stalls, every scraper skipping the same seconds, does not read as a gap dedup made): each
    /// stored series holds the samples the dedup rule keeps of what they sent
    /// (``keptByDedupRule(_:interval:from:to:)``, within 10 %, or one), no two within 0.45 of an
    /// interval once the interval is learned (two intervals in), and no gap over 1.6 intervals +
    /// 400 ms of delivery beyond any stretch where neither replica sent a sample.
    static func checkLikeOneReplica(_ check: Checks, stored: [String: [(Int64, Double)]], sent: [String: [[Int64]]], interval: Int64) {
        for (series, samples) in stored {
            check(!series.contains("replica"), "the replica label is removed: \(series)")
            let times = samples.map(\.0)
            let replicas = sent[series] ?? []
            guard let first = times.first, let last = times.last, times.count > 3, replicas.count == 2 else {
                check(false, "\(series): \(times.count) samples stored, sent by \(replicas.count) replicas")
                continue
            }
            let union = replicas.joined().sorted()
            // Judged against what the dedup rule keeps of what the replicas sent. (Counted once
            // as the intervals some replica sent in, a sample counted 3/4 of an interval after
            // the last: after a stall, a replica's catch-up scrape and its next one, closer than
            // that but at least half an interval apart, are both stored by the rule, and a
            // loaded run stored 10 samples of the 2 s job where that count said 8.)
            let kept = Self.keptByDedupRule(replicas, interval: interval, from: first, to: last)
            check(abs(times.count - kept) <= max(1, kept / 10), "\(series): \(times.count) samples stored where the dedup rule keeps \(kept) of what the replicas sent")
            let gaps = Array(zip(times, times.dropFirst()))
            let settled = gaps.filter { $0.0 >= first + 2 * interval }.map { $0.1 - $0.0 }
            check((settled.min() ?? interval) >= interval * 45 / 100, "\(series): samples \(settled.min() ?? 0) ms apart")
            for (from, to) in gaps where to - from > interval {
                let inside = [from] + union.filter { $0 > from && $0 < to } + [to]
                let unsent = zip(inside, inside.dropFirst()).map { $1 - $0 }.max() ?? 0
                let allowed = interval * 16 / 10 + 400 + max(0, unsent - interval)
                check(to - from <= allowed, "\(series): gap of \(to - from) ms at \(from) (replicas sent nothing for \(unsent) ms of it)")
            }
        }
    }

    /// Interop: one agent writes to Debian's prometheus (remote-write receiver) and to
    /// victoria-metrics at once; queried there, the series carry job, instance, group and
    /// replica, and up == 1.
    @Test func writesToPrometheusAndVictoriaMetrics() async throws {
        try await Self.onThread { check in
            let node = try Self.node()
            defer { node.stop(); node.removeDirectory() }
            let prom = try Self.prometheusReceiver()
            defer { prom.stop(); prom.removeDirectory() }
            let vm = try Self.victoriaMetrics()
            defer { vm.stop(); vm.removeDirectory() }
            let agent = try Self.agent { port, dir in
                Self.agentConfig(
                    port: port, dir: dir, replica: "a", node: node.port,
                    writes: ["http://127.0.0.1:\(prom.port)/api/v1/write", "http://127.0.0.1:\(vm.port)/api/v1/write"])
            }
            defer { agent.stop(); agent.removeDirectory() }
            Thread.sleep(forTimeInterval: 4)
            try Self.waitDelivered(agent)
            let expected = ["__name__": "up", "job": "node", "instance": "127.0.0.1:\(node.port)", "group": "lab-1", "replica": "a"]
            for (name, base) in [("prometheus", "http://127.0.0.1:\(prom.port)"), ("victoria-metrics", "http://127.0.0.1:\(vm.port)")] {
                var result: [[String: Any]] = []
                for _ in 0..<30 {
                    let json = try httpJSON("\(base)/api/v1/query?query=up")
                    result = ((json["data"] as? [String: Any])?["result"] as? [[String: Any]]) ?? []
                    if !result.isEmpty { break }
                    Thread.sleep(forTimeInterval: 0.5)
                }
                check(result.count == 1, "\(name): \(result)")
                check(result.first?["metric"] as? [String: String] == expected, "\(name)")
                check((result.first?["value"] as? [Any])?.last as? String == "1", "\(name)")
                let count = try httpJSON("\(base)/api/v1/query?query=count(%7Bjob%3D%22node%22%7D)")
                let n = ((((count["data"] as? [String: Any])?["result"] as? [[String: Any]])?.first?["value"] as? [Any])?.last as? String).flatMap(Double.init) ?? 0
                check(n > 300, "\(name) holds node_exporter's series (\(n))")
            }
            let m = try httpGet("http://127.0.0.1:\(agent.port)/metrics")
            check(exposedValue(m, "prometheus_remote_storage_samples_failed_total") == 0)
            check(exposedValue(m, "prometheus_remote_storage_samples_total") > 1000, "two queues, each counted")
            // The agent's own pages: the targets API in Prometheus's shape and the HTML page.
            let targets = try httpJSON("http://127.0.0.1:\(agent.port)/api/v1/targets")
            let active = ((targets["data"] as? [String: Any])?["activeTargets"] as? [[String: Any]]) ?? []
            check(active.count == 1 && active.first?["health"] as? String == "up", "\(targets)")
            check((active.first?["labels"] as? [String: String])?["group"] == "lab-1")
            // The targets page (drawn in the browser: WebPagesTests) and the queue figures it shows.
            let page = try httpGet("http://127.0.0.1:\(agent.port)/")
            check(page.contains("<title>Targets · Tributary agent</title>") && page.contains("api/v1/status/queues"), "the targets page")
            let queues = (try httpJSON("http://127.0.0.1:\(agent.port)/api/v1/status/queues")["data"] as? [[String: Any]]) ?? []
            check(queues.count == 2 && queues.allSatisfy { ($0["samplesDelivered"] as? Int ?? 0) > 300 && ($0["highestSent"] as? Int ?? 0) > 0 }, "\(queues)")
        }
    }

    /// Metric metadata over remote write 1.0: our agent and Prometheus 2.42's agent scrape the
    /// same node_exporter, each into a receiver of ours; both receivers answer
    /// `/api/v1/metadata` alike (type, help and unit of every family, as Prometheus's agent
    /// sends them), and our queue counts what it sent under Prometheus's metric names.
    @Test func metadataMatchesPrometheusAgent() async throws {
        try await Self.onThread { check in
            let node = try Self.node()
            defer { node.stop(); node.removeDirectory() }
            let ours = try Self.receiver()
            defer { ours.stop(); ours.removeDirectory() }
            let theirs = try Self.receiver()
            defer { theirs.stop(); theirs.removeDirectory() }
            let agent = try Self.agent { port, dir in
                Self.agentConfig(
                    port: port, dir: dir, replica: "a", node: node.port, writes: ["http://127.0.0.1:\(ours.port)/api/v1/write"],
                    extra: "\n    metadata_config: {send_interval: 1s}")
            }
            defer { agent.stop(); agent.removeDirectory() }
            let prometheus = try PeerProcess("prometheus", readyPath: "/-/ready") { port, dir in
                try """
                global: {scrape_interval: 1s}
                scrape_configs:
                  - job_name: node
                    static_configs: [{targets: ["127.0.0.1:\(node.port)"]}]
                remote_write:
                  - url: http://127.0.0.1:\(theirs.port)/api/v1/write
                    metadata_config: {send_interval: 1s}
                """.write(toFile: dir + "/p.yml", atomically: true, encoding: .utf8)
                return ["--enable-feature=agent", "--config.file=\(dir)/p.yml", "--storage.agent.path=\(dir)/data", "--web.listen-address=127.0.0.1:\(port)"]
            }
            defer { prometheus.stop(); prometheus.removeDirectory() }
            func metadata(_ receiver: PeerProcess) throws -> [String: [[String: String]]] {
                (try httpJSON("http://127.0.0.1:\(receiver.port)/api/v1/metadata"))["data"] as? [String: [[String: String]]] ?? [:]
            }
            var a: [String: [[String: String]]] = [:], b: [String: [[String: String]]] = [:]
            for _ in 0..<40 {
                a = try metadata(ours)
                b = try metadata(theirs)
                if a.count > 50, a == b { print("metadata vs prometheus agent: \(a.count) families, all alike"); break }
                Thread.sleep(forTimeInterval: 0.5)
            }
            check(a.count > 50, "node_exporter's families arrived: \(a.count)")
            check(a["node_load1"] == [["type": "gauge", "help": "1m load average.", "unit": ""]], "\(a["node_load1"] ?? [])")
            check(a["node_cpu_seconds_total"]?.first?["type"] == "counter")
            let differing = Set(a.keys).union(b.keys).filter { a[$0] != b[$0] }.sorted()
            check(differing.isEmpty, "families whose metadata differs from Prometheus's agent: \(differing.prefix(10).map { "\($0): \(a[$0] ?? []) vs \(b[$0] ?? [])" })")
            let m = try httpGet("http://127.0.0.1:\(agent.port)/metrics")
            check(exposedValue(m, "prometheus_remote_storage_metadata_total") >= Double(a.count), "metadata counted")
            check(exposedValue(m, "prometheus_remote_storage_metadata_bytes_total") > 0)
            check(exposedValue(m, "prometheus_remote_storage_metadata_failed_total") == 0)
        }
    }

    /// `protobuf_message: io.prometheus.write.v2.Request`: remote write 2.0 to our receiver.
    @Test func remoteWrite20() async throws {
        try await Self.onThread { check in
            let node = try Self.node()
            defer { node.stop(); node.removeDirectory() }
            let receiver = try Self.receiver()
            defer { receiver.stop(); receiver.removeDirectory() }
            let agent = try Self.agent { port, dir in
                Self.agentConfig(
                    port: port, dir: dir, replica: "a", node: node.port, writes: ["http://127.0.0.1:\(receiver.port)/api/v1/write"],
                    extra: "\n    protobuf_message: io.prometheus.write.v2.Request")
            }
            defer { agent.stop(); agent.removeDirectory() }
            Thread.sleep(forTimeInterval: 3)
            try Self.waitDelivered(agent)
            let up = try Self.upSamples("http://127.0.0.1:\(receiver.port)")
            check(up.count >= 4 && up.allSatisfy { $0.1 == 1 }, "up arrived over 2.0: \(up)")
            let m = try httpGet("http://127.0.0.1:\(receiver.port)/metrics")
            check(exposedValue(m, "tributary_remote_write_requests_total", labels: "code=\"204\"") > 0)
            check(exposedValue(m, "tributary_remote_write_samples_rejected_total") == 0)
        }
    }

    /// The receiver is down for a while: the agent keeps scraping into its WAL and delivers
    /// every sample when it is back, in order (the receiver refuses none), none twice, and
    /// the series has no gap over one scrape interval. "None twice" is read from what the
    /// receiver was sent (its count of exact repeats), not from storage, which keeps one copy.
    @Test func receiverOutageLosesNothing() async throws {
        try await Self.onThread { check in
            let node = try Self.node()
            defer { node.stop(); node.removeDirectory() }
            var receiver = try Self.receiver()
            let rport = receiver.port, rdir = receiver.dir
            defer { receiver.stop(); receiver.removeDirectory() }
            let agent = try Self.agent { port, dir in
                Self.agentConfig(port: port, dir: dir, replica: "a", node: node.port, writes: ["http://127.0.0.1:\(rport)/api/v1/write"])
            }
            defer { agent.stop(); agent.removeDirectory() }
            Thread.sleep(forTimeInterval: 3)
            receiver.stop()
            let outageStart = Date().timeIntervalSince1970
            Thread.sleep(forTimeInterval: 8)
            receiver = try Self.receiver(port: rport, dir: rdir)
            let outageEnd = Date().timeIntervalSince1970
            Thread.sleep(forTimeInterval: 1)
            try Self.waitDelivered(agent)
            let up = try Self.upSamples("http://127.0.0.1:\(rport)")
            let times = up.map(\.0)
            check(times == times.sorted(), "in order")
            let gaps = zip(times, times.dropFirst()).map { $1 - $0 }
            check((gaps.max() ?? 0) <= 750, "no gap over 1.5 scrape intervals: largest \(gaps.max() ?? 0) ms")
            let during = up.filter { Double($0.0) / 1000 > outageStart && Double($0.0) / 1000 < outageEnd }
            check(during.count >= 14, "samples scraped during the 8 s outage arrived (\(during.count))")
            let rm = try httpGet("http://127.0.0.1:\(rport)/metrics")
            check(exposedValue(rm, "tributary_remote_write_samples_rejected_total") == 0)
            check(exposedValue(rm, "tributary_remote_write_samples_repeated_total") == 0, "none sent twice")
            let am = try httpGet("http://127.0.0.1:\(agent.port)/metrics")
            check(exposedValue(am, "prometheus_remote_storage_samples_failed_total") == 0)
            check(exposedValue(am, "prometheus_remote_storage_samples_retried_total") > 0, "the agent did retry during the outage")
        }
    }

    /// The agent is killed with SIGKILL while its receiver is down, so scraped samples are only
    /// in its WAL; restarted, it resumes from its saved position and delivers them. The position
    /// is saved at most once a second, so what the receiver gets twice (counted as exact
    /// repeats) is at most about a second of scrapes, never the whole WAL again.
    @Test func agentKilledResumesFromItsWAL() async throws {
        try await Self.onThread { check in
            let node = try Self.node()
            defer { node.stop(); node.removeDirectory() }
            var receiver = try Self.receiver()
            let rport = receiver.port, rdir = receiver.dir
            defer { receiver.stop(); receiver.removeDirectory() }
            let config = { (port: Int, dir: String) in
                Self.agentConfig(port: port, dir: dir, replica: "a", node: node.port, writes: ["http://127.0.0.1:\(rport)/api/v1/write"])
            }
            var agent = try Self.agent(config)
            let aport = agent.port, adir = agent.dir
            defer { agent.stop(); agent.removeDirectory() }
            Thread.sleep(forTimeInterval: 3)
            receiver.stop()
            let undeliveredFrom = Date().timeIntervalSince1970
            Thread.sleep(forTimeInterval: 4)
            agent.kill()
            let killedAt = Date().timeIntervalSince1970
            receiver = try Self.receiver(port: rport, dir: rdir)
            Thread.sleep(forTimeInterval: 1)
            agent = try Self.agent(config, port: aport, dir: adir)
            let restartedAt = Date().timeIntervalSince1970
            Thread.sleep(forTimeInterval: 2)
            try Self.waitDelivered(agent)
            check(agent.output.contains("remote write queue resumes"), "\(agent.output.suffix(1500))")
            let up = try Self.upSamples("http://127.0.0.1:\(rport)")
            let times = up.map(\.0)
            let rm = try httpGet("http://127.0.0.1:\(rport)/metrics")
            let repeated = exposedValue(rm, "tributary_remote_write_samples_repeated_total")
            let perScrape = try Self.samplesPerScrape("http://127.0.0.1:\(rport)")
            check(perScrape > 100, "node_exporter's series and the scrape series (\(perScrape))")
            // 3 scrapes at 500 ms: the second the position may lag, plus one round in flight. A
            // restart from the oldest segment would resend the ~6 scrapes before the outage.
            check(repeated <= 3 * perScrape, "sent twice: \(repeated) samples, more than ~1 s of scrapes (\(perScrape) a scrape)")
            let queued = up.filter { Double($0.0) / 1000 > undeliveredFrom && Double($0.0) / 1000 < killedAt - 0.5 }
            check(queued.count >= 6, "samples scraped while the receiver was down and then only in the WAL arrived (\(queued.count))")
            // The only gap is while the agent was dead.
            let gaps = zip(times, times.dropFirst()).filter { $1 - $0 > 750 }
            check(gaps.count <= 1)
            if let gap = gaps.first { check(Double(gap.1 - gap.0) / 1000 < restartedAt - killedAt + 2.5) }
        }
    }

    /// An HA pair of our agents with two jobs at different intervals (500 ms and 2 s) through a
    /// receiver at its default 15 s window: each series follows its own interval, stored like
    /// one replica (judged against what each sent, held apart by Debian's prometheus), without
    /// the replica label, through a stall of both agents.
    @Test func haPairWithJobsAtDifferentIntervals() async throws {
        try await Self.onThread { check in
            let node = try Self.node()
            defer { node.stop(); node.removeDirectory() }
            let receiver = try Self.receiver(window: "15s")
            defer { receiver.stop(); receiver.removeDirectory() }
            let prom = try Self.prometheusReceiver()
            defer { prom.stop(); prom.removeDirectory() }
            let base = "http://127.0.0.1:\(receiver.port)", sent = "http://127.0.0.1:\(prom.port)"
            func config(_ port: Int, _ dir: String, _ replica: String) -> String {
                """
                listen: 127.0.0.1:\(port)
                storage: {path: \(dir)/agent}
                global: {external_labels: {replica: \(replica)}}
                scrape_configs:
                  - job_name: fast
                    scrape_interval: 500ms
                    static_configs: [{targets: ["127.0.0.1:\(node.port)"]}]
                  - job_name: slow
                    scrape_interval: 2s
                    static_configs: [{targets: ["127.0.0.1:\(node.port)"]}]
                remote_write:
                  - url: \(base)/api/v1/write
                    queue_config: {batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 500ms}
                  - url: \(sent)/api/v1/write
                    queue_config: {batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 500ms}
                """
            }
            let a = try Self.agent { port, dir in config(port, dir, "a") }
            defer { a.stop(); a.removeDirectory() }
            let b = try Self.agent { port, dir in config(port, dir, "b") }
            defer { b.stop(); b.removeDirectory() }
            Thread.sleep(forTimeInterval: 9)
            // A stall both share (their host paused): each catches up with one scrape on waking,
            // a long and then a short spacing that must not be taken for a new interval.
            for agent in [a, b] { Glibc.kill(agent.process.processIdentifier, SIGSTOP) }
            Thread.sleep(forTimeInterval: 3)
            for agent in [a, b] { Glibc.kill(agent.process.processIdentifier, SIGCONT) }
            Thread.sleep(forTimeInterval: 6)
            try Self.waitDelivered(a)
            try Self.waitDelivered(b)
            for (job, interval) in [("fast", Int64(500)), ("slow", Int64(2_000))] {
                let selector = "{job=\"\(job)\",__name__=~\"up|node_load1|scrape_duration_seconds\"}[10m]"
                let all = try rawSamples(base, selector)
                check(all.count == 3, "\(job): \(all.keys)")
                Self.checkLikeOneReplica(check, stored: all, sent: try Self.sentByReplica(prom, selector), interval: interval)
            }
            let m = try httpGet(base + "/metrics")
            check(exposedValue(m, "tributary_remote_write_samples_deduplicated_total", labels: "reason=\"replica\"") > 0)
            check(exposedValue(m, "tributary_dedup_interval_mismatch_series") == 0, "both replicas scrape at the same intervals")
        }
    }

    /// The HA pair end to end: agents a and b write to one receiver that deduplicates with a
    /// one-interval window (and to prometheus, the yardstick); a is SIGKILLed mid-run and
    /// restarted later. Every series stays continuous and never holds two samples in one window.
    @Test func haPairSurvivesAnAgentKill() async throws {
        try await Self.onThread { check in
            let node = try Self.node()
            defer { node.stop(); node.removeDirectory() }
            let receiver = try Self.receiver(window: "1s")
            defer { receiver.stop(); receiver.removeDirectory() }
            let prom = try Self.prometheusReceiver()
            defer { prom.stop(); prom.removeDirectory() }
            let write = ["http://127.0.0.1:\(receiver.port)/api/v1/write", "http://127.0.0.1:\(prom.port)/api/v1/write"]
            var a = try Self.agent { port, dir in Self.agentConfig(port: port, dir: dir, replica: "a", node: node.port, interval: "1s", writes: write) }
            let aport = a.port, adir = a.dir
            defer { a.stop(); a.removeDirectory() }
            let b = try Self.agent { port, dir in Self.agentConfig(port: port, dir: dir, replica: "b", node: node.port, interval: "1s", writes: write) }
            defer { b.stop(); b.removeDirectory() }
            Thread.sleep(forTimeInterval: 5)
            a.kill()
            Thread.sleep(forTimeInterval: 5)
            a = try Self.agent({ port, dir in Self.agentConfig(port: port, dir: dir, replica: "a", node: node.port, interval: "1s", writes: write) }, port: aport, dir: adir)
            Thread.sleep(forTimeInterval: 5)
            try Self.waitDelivered(a)
            try Self.waitDelivered(b)
            let base = "http://127.0.0.1:\(receiver.port)"
            let selector = "{job=\"node\",__name__=~\"up|node_load1|node_cpu_seconds_total|scrape_duration_seconds\"}[10m]"
            let all = try rawSamples(base, selector)
            check(all.count > 4)
            Self.checkLikeOneReplica(check, stored: all, sent: try Self.sentByReplica(prom, selector), interval: 1_000)
            // Enough data to judge by (15 s at 1 s, less a few seconds a stalled host may take).
            for (series, samples) in all { check(samples.count >= 10, "\(series): \(samples.count) samples over ~15 s") }
            let m = try httpGet(base + "/metrics")
            check(exposedValue(m, "tributary_remote_write_samples_deduplicated_total") > 0)
        }
    }
}
