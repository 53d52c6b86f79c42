import Foundation
import Logging
import NIOCore
import Prometheus
import Synchronization
import TributaryModel
import TributaryRemoteWrite
import TributaryWAL
import TributaryWire

/// What `/api/v1/targets` shows of a target.
public struct TargetStatus: Sendable {
    public var health = "unknown"
    public var lastError = ""
    public var lastScrape: Double = 0
    public var lastScrapeDuration: Double = 0
    public var samples = 0
}

/// A scrape's answer: the body and its content type.
public typealias ScrapeFetch = @Sendable (ScrapeTarget) async throws -> (body: [UInt8], contentType: String?)

/// Scrapes one target every interval (at a fixed offset in the interval derived from the
/// target, so targets spread out) and writes its samples to the agent's WAL: series looked up
/// by raw bytes, `honor_labels`/`honor_timestamps`, metric relabelling, external labels, the
/// synthetic `up` and `scrape_*` series, and stale markers for series that disappear or for
/// every series when the target goes down.
public final class ScrapeLoop: Sendable {
    public let target: ScrapeTarget
    let storage: QueueStorage
    let externalLabels: [String: String]
    let metrics: AgentMetrics
    let logger: Logger
    let source: Source
    /// The target's scrape slot in the interval, in milliseconds.
    let slotOffset: Int64
    public let status = Mutex(TargetStatus())
    let state = Mutex(LoopState())
    /// The timer and the scrape in flight, when scraping on an event loop.
    let schedule = Mutex(Schedule())

    /// Where scrapes come from: the target's scraper, on its event loop (the agent), or a
    /// function run in the loop's task (tests hand bodies in this way).
    enum Source: Sendable {
        case scraper(TargetScraper)
        case fetch(ScrapeFetch)
    }

    struct LoopState {
        var cache = ScrapeCache()
        var iteration = 0
        /// The iteration whose series are live (the last good scrape), if any.
        var liveIteration: Int?
        var synthetic: [UInt32] = []
    }

    static let syntheticNames = ["up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_series_added"]

    public convenience init(
        target: ScrapeTarget, storage: QueueStorage, externalLabels: [String: String], metrics: AgentMetrics, logger: Logger,
        fetch: @escaping ScrapeFetch
    ) {
        self.init(target: target, storage: storage, externalLabels: externalLabels, metrics: metrics, logger: logger, source: .fetch(fetch))
    }

    init(target: ScrapeTarget, storage: QueueStorage, externalLabels: [String: String], metrics: AgentMetrics, logger: Logger, source: Source) {
        self.target = target
        self.storage = storage
        self.externalLabels = externalLabels
        self.metrics = metrics
        self.logger = logger
        self.source = source
        let interval = UInt64(max(target.config.scrapeInterval, 1))
        slotOffset = Int64(Array((target.job + target.url).utf8).withUnsafeBytes { StableHash.hash($0) } % interval)
    }

    /// Scrapes until cancelled.
    public func run() async {
        switch source {
        case .scraper(let scraper): await run(on: scraper)
        case .fetch: await iterate()
        }
    }

    /// The loop as a task: sleep, ``scrape(at:)``, again.
    func iterate() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: .milliseconds(delayToNextSlot())) } catch { return }
            await scrape(at: Self.nowMilliseconds())
        }
    }

    /// Milliseconds to this target's next scrape: its slot is a fixed offset in the interval,
    /// derived from the target, so that targets spread out.
    func delayToNextSlot() -> Int64 {
        let interval = target.config.scrapeInterval
        let now = Self.nowMilliseconds()
        var next = (now - now % interval) + slotOffset
        if next <= now { next += interval }
        return next - now
    }

    static func nowMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// One scrape at time `t` (milliseconds): fetch, then ``ingest(_:contentType:at:duration:)``.
    public func scrape(at t: Int64) async {
        let started = ContinuousClock.now
        metrics.scrapesTotal.increment()
        var answer: (body: [UInt8], contentType: String?)?
        var failure: String?
        do {
            switch source {
            case .scraper(let scraper): answer = try await scraper.fetch()
            case .fetch(let fetch): answer = try await fetch(target)
            }
        } catch {
            // Stopped mid-scrape: the target did not fail, and nothing is written.
            if Task.isCancelled { return }
            failure = "\(error)"
        }
        ingest(answer, failure: failure, at: t, duration: Self.seconds(since: started))
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let duration = ContinuousClock.now - start
        return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Turns a scrape result into WAL records. `answer` nil (with `failure`) means the target is
    /// down: `up` is 0 and every series of the last good scrape gets a stale marker.
    public func ingest(_ answer: (body: [UInt8], contentType: String?)?, failure: String? = nil, at t: Int64, duration: Double) {
        var newSeries: [(UInt32, Labels)] = []
        var ids: [UInt32] = []
        var samples: [Sample] = []
        var error = failure
        var scraped = 0, kept = 0, added = 0
        state.withLock { s in
            s.iteration += 1
            let iteration = s.iteration
            if let answer, error == nil {
                var parser = ExpositionParser(answer.body, format: ExpositionFormat(contentType: answer.contentType))
                let mark = (newSeries.count, ids.count)
                // The body stays alive in `answer` for the whole loop; keys are read through a
                // pointer, so a sample costs no slice, retain or generic compare.
                let limits = target.config.limits
                var failure: String?
                // The parser asks the cache about a sample's series before parsing its labels
                // (a series seen before is not parsed again); the answer is kept for the sample.
                var asked = false
                var answered: (id: UInt32, dropped: Bool, duplicate: Bool)?
                answer.body.withUnsafeBytes { body in
                    do {
                        while let entry = try parser.next(known: { key in
                            asked = true
                            answered = s.cache.lookup(key, iteration: iteration)
                            return answered != nil
                        }) {
                            guard case .sample(let sample) = entry else { continue }
                            scraped += 1
                            let key = UnsafeRawBufferPointer(rebasing: body[sample.series])
                            let found = asked ? answered : s.cache.lookup(key, iteration: iteration)
                            asked = false
                            let id: UInt32
                            if let hit = found {
                                if hit.dropped || hit.duplicate { continue }
                                id = hit.id
                            } else {
                                guard let labels = seriesLabels(parser, name: sample.name) else {
                                    s.cache.insert(key: key, id: 0, dropped: true, iteration: iteration)
                                    continue
                                }
                                // Label limits are checked once per series: a cached series passed them.
                                if let problem = Self.overLimit(labels, limits) {
                                    failure = problem
                                    break
                                }
                                id = storage.allocate(1)
                                s.cache.insert(key: key, id: id, dropped: false, iteration: iteration)
                                newSeries.append((id, labels))
                                added += 1
                            }
                            kept += 1
                            if limits.sampleLimit > 0, kept > limits.sampleLimit {
                                failure = "sample_limit exceeded: more than \(limits.sampleLimit) samples after metric relabelling"
                                break
                            }
                            ids.append(id)
                            samples.append(Sample(timestamp: target.config.honorTimestamps ? (sample.timestamp ?? t) : t, value: sample.value))
                        }
                    } catch let e {
                        failure = "parse error at \(e)"
                    }
                }
                if let failure {
                    // Nothing of a failed scrape is written; the series it had not logged are forgotten.
                    error = failure
                    s.cache.remove(ids: Set(newSeries[mark.0...].map(\.0)), insertedIn: iteration)
                    newSeries.removeSubrange(mark.0...)
                    ids.removeSubrange(mark.1...)
                    samples.removeAll()
                }
            }
            var ended: [UInt32]
            if error == nil {
                ended = s.cache.sweep(iteration: iteration, forgetAfter: 10)
                s.liveIteration = iteration
            } else {
                ended = s.liveIteration.map { s.cache.live(since: $0) } ?? []
                s.liveIteration = nil
                _ = s.cache.sweep(iteration: iteration, forgetAfter: 10)
            }
            for id in ended {
                ids.append(id)
                samples.append(Sample(timestamp: t, value: StaleMarker.value))
            }
            if !ended.isEmpty { storage.expire(ended, endedAt: t) }
            if s.synthetic.isEmpty {
                let first = storage.allocate(Self.syntheticNames.count)
                s.synthetic = (0..<UInt32(Self.syntheticNames.count)).map { first + $0 }
                for (i, name) in Self.syntheticNames.enumerated() {
                    newSeries.append((s.synthetic[i], targetSeries(name)))
                }
            }
            let values: [Double] = [error == nil ? 1 : 0, duration, Double(scraped), Double(kept), Double(added)]
            for (i, v) in values.enumerated() {
                ids.append(s.synthetic[i])
                samples.append(Sample(timestamp: t, value: v))
            }
        }
        do {
            try storage.append(series: newSeries, ids: ids, samples: samples)
            metrics.scrapeSamples.increment(by: Int64(samples.count))
        } catch let e {
            logger.error("cannot write scraped samples to the WAL", metadata: ["target": "\(target.url)", "error": "\(e)"])
            error = error ?? "WAL write failed: \(e)"
        }
        if error != nil { metrics.scrapesFailed.increment() }
        status.withLock { st in
            st.health = error == nil ? "up" : "down"
            st.lastError = error ?? ""
            st.lastScrape = Double(t) / 1000
            st.lastScrapeDuration = duration
            st.samples = kept
        }
    }

    /// The target was removed from the configuration: every live series and the synthetic
    /// ones get a stale marker at `t`.
    public func end(at t: Int64) {
        var ids: [UInt32] = []
        state.withLock { s in
            ids = (s.liveIteration.map { s.cache.live(since: $0) } ?? []) + s.synthetic
            s.liveIteration = nil
        }
        guard !ids.isEmpty else { return }
        storage.expire(ids, endedAt: t)
        do {
            try storage.append(series: [], ids: ids, samples: ids.map { _ in Sample(timestamp: t, value: StaleMarker.value) })
        } catch {
            logger.error("cannot write stale markers for a removed target", metadata: ["target": "\(target.url)", "error": "\(error)"])
        }
        status.withLock { $0.health = "removed" }
    }

    /// Why `labels` break the scrape config's label limits, or nil.
    static func overLimit(_ labels: Labels, _ limits: ScrapeLimits) -> String? {
        guard limits.labelLimit > 0 || limits.labelNameLengthLimit > 0 || limits.labelValueLengthLimit > 0 else { return nil }
        let pairs = labels.pairs
        if limits.labelLimit > 0, pairs.count > limits.labelLimit {
            return "label_limit exceeded: \(labels) has \(pairs.count) labels, more than \(limits.labelLimit)"
        }
        for (name, value) in pairs {
            if limits.labelNameLengthLimit > 0, name.utf8.count > limits.labelNameLengthLimit {
                return "label_name_length_limit exceeded: \"\(name)\" is longer than \(limits.labelNameLengthLimit) bytes"
            }
            if limits.labelValueLengthLimit > 0, value.utf8.count > limits.labelValueLengthLimit {
                return "label_value_length_limit exceeded: the value of \"\(name)\" is longer than \(limits.labelValueLengthLimit) bytes"
            }
        }
        return nil
    }

    /// The series' labels: scraped labels merged with the target's (honor_labels), then
    /// metric_relabel_configs and the external labels; nil when relabelling drops the series.
    func seriesLabels(_ parser: ExpositionParser, name: Range<Int>) -> Labels? {
        var dict: [String: String] = ["__name__": parser.string(name)]
        for l in parser.labels {
            dict[parser.string(l.name)] = String(decoding: parser.labelValue(l), as: UTF8.self)
        }
        for (k, v) in target.labels {
            if target.config.honorLabels {
                if dict[k, default: ""].isEmpty { dict[k] = v }
            } else {
                if let clash = dict[k], !clash.isEmpty {
                    var exported = "exported_" + k
                    while dict[exported] != nil { exported = "exported_" + exported }
                    dict[exported] = clash
                }
                dict[k] = v
            }
        }
        dict = dict.filter { !$0.value.isEmpty }
        if !target.config.metricRelabelConfigs.isEmpty {
            guard let relabelled = Relabeler.process(dict, target.config.metricRelabelConfigs) else { return nil }
            dict = relabelled
        }
        for (k, v) in externalLabels where dict[k] == nil { dict[k] = v }
        guard dict["__name__"] != nil else { return nil }
        return Labels(sortedPairs: dict.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    func targetSeries(_ name: String) -> Labels {
        var dict = target.labels
        dict["__name__"] = name
        for (k, v) in externalLabels where dict[k] == nil { dict[k] = v }
        return Labels(sortedPairs: dict.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }
}
