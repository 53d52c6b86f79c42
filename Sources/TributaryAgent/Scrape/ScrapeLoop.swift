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
    /// Sample timestamps.
    let clock: WallClock
    /// The target's scrape slot in the interval, in milliseconds.
    let slotOffset: Int64
    public let status = Mutex(TargetStatus())
    let state = Mutex(ScrapeIngest.State())
    /// Decides what each scrape writes (no I/O; see ``ScrapeIngest``).
    let ingester: ScrapeIngest
    /// The timer and the scrape in flight, when scraping on an event loop.
    let schedule = Mutex(Schedule())

    /// Where scrapes come from: the target's scraper, on its event loop (the agent), or a
    /// function run in the loop's task (tests hand bodies in this way).
    enum Source: Sendable {
        case scraper(TargetScraper)
        case fetch(ScrapeFetch)
    }

    public convenience init(
        target: ScrapeTarget, storage: QueueStorage, externalLabels: [String: String], metrics: AgentMetrics, logger: Logger,
        clock: WallClock = .system, fetch: @escaping ScrapeFetch
    ) {
        self.init(target: target, storage: storage, externalLabels: externalLabels, metrics: metrics, logger: logger, clock: clock, source: .fetch(fetch))
    }

    init(target: ScrapeTarget, storage: QueueStorage, externalLabels: [String: String], keepExemplars: Bool = false, metrics: AgentMetrics, logger: Logger, clock: WallClock, source: Source) {
        self.target = target
        self.storage = storage
        self.externalLabels = externalLabels
        self.metrics = metrics
        self.logger = logger
        self.source = source
        self.clock = clock
        ingester = ScrapeIngest(target: target, externalLabels: externalLabels, keepExemplars: keepExemplars)
        slotOffset = Self.slotOffset(job: target.job, url: target.url, externalLabels: externalLabels, interval: target.config.scrapeInterval)
    }

    /// Where in the interval a target is scraped: from the target and the agent's external
    /// labels, as Prometheus seeds its scrape offsets with them. The two agents of an HA pair
    /// differ in their replica label, so they scrape one target at different times: with
    /// one shared slot, both stamped the same aligned timestamp (``alignedTimestamp(_:interval:offset:)``),
    /// and the receiver could not tell the second copy for the other replica's scrape.
    static func slotOffset(job: String, url: String, externalLabels: [String: String], interval: Int64) -> Int64 {
        var key = Array(job.utf8) + [0] + Array(url.utf8)
        for (name, value) in externalLabels.sorted(by: { $0.key < $1.key }) { key += [0] + Array(name.utf8) + [0] + Array(value.utf8) }
        return Int64(key.withUnsafeBytes { StableHash.hash($0) } % UInt64(max(interval, 1)))
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
            await scrape(at: scrapeTimestamp())
        }
    }

    /// How far after its slot a scrape may start and still be stamped with the slot's time:
    /// 2 ms, Prometheus's default `--scrape.timestamp-tolerance`.
    static let alignTolerance: Int64 = 2

    /// The time a scrape starting now is stamped with (``alignedTimestamp(_:interval:offset:)``).
    func scrapeTimestamp() -> Int64 {
        Self.alignedTimestamp(clock.now(), interval: target.config.scrapeInterval, offset: slotOffset)
    }

    /// `now`, or the slot's time when `now` is at most ``alignTolerance`` after it and the
    /// interval is over 100 times that (as Prometheus aligns): a timer fires a millisecond or
    /// so late, and without this every sample's delta of delta was non-zero, which costs
    /// chunk bits and takes the decoder off its fast path for steady intervals.
    static func alignedTimestamp(_ now: Int64, interval: Int64, offset: Int64) -> Int64 {
        guard interval > 100 * alignTolerance else { return now }
        let sinceSlot = ((now - offset) % interval + interval) % interval
        return sinceSlot <= alignTolerance ? now - sinceSlot : now
    }

    /// Milliseconds to this target's next scrape: its slot is a fixed offset in the interval,
    /// derived from the target, so that targets spread out.
    func delayToNextSlot() -> Int64 {
        let interval = target.config.scrapeInterval
        let now = clock.now()
        var next = (now - now % interval) + slotOffset
        if next <= now { next += interval }
        return next - now
    }

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
        ingest(answer, failure: failure, at: t, duration: started.secondsElapsed)
    }

    /// Turns a scrape result into WAL records. `answer` nil (with `failure`) means the target is
    /// down: `up` is 0 and every series of the last good scrape gets a stale marker.
    public func ingest(_ answer: (body: [UInt8], contentType: String?)?, failure: String? = nil, at t: Int64, duration: Double) {
        let storage = self.storage
        let batch = state.withLock { s in
            ingester.ingest(answer, failure: failure, at: t, duration: duration, state: &s, allocate: storage.allocate)
        }
        if !batch.ended.isEmpty { storage.expire(batch.ended, endedAt: t) }
        var error = batch.error
        do {
            try storage.append(series: batch.newSeries, ids: batch.ids, samples: batch.samples, exemplarIDs: batch.exemplarIDs, exemplars: batch.exemplars)
            metrics.scrapeSamples.increment(by: Int64(batch.samples.count))
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
            st.samples = batch.kept
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
}
