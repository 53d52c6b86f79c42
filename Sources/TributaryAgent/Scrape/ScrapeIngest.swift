import TributaryModel
import TributaryRemoteWrite
import TributaryWire

/// What one scrape writes, decided without I/O: the body parsed against the loop's scrape
/// cache (series looked up by their raw bytes), `honor_labels`/`honor_timestamps`, metric
/// relabelling, external labels, the label and sample limits, stale markers for series that
/// disappear or for every series when the target is down, and the synthetic `up` and
/// `scrape_*` series. ``ScrapeLoop`` holds the state under its lock and writes the ``Batch``.
struct ScrapeIngest: Sendable {
    let target: ScrapeTarget
    let externalLabels: [String: String]
    /// Keep the exemplars of OpenMetrics samples (a queue has `send_exemplars: true`).
    var keepExemplars = false

    /// A loop's memory between scrapes.
    struct State {
        var cache = ScrapeCache()
        var iteration = 0
        /// The iteration whose series are live (the last good scrape), if any.
        var liveIteration: Int?
        var synthetic: [UInt32] = []
        /// The target's metric metadata as of its last good scrape, and the fingerprint of the
        /// lines it came from (``ScrapedMetadata``).
        var metadata: [MetricMetadata] = []
        var metadataFingerprint: UInt64 = 0
    }

    /// What to write for one scrape: new series first (ids from `allocate`), then samples.
    struct Batch {
        var newSeries: [(UInt32, Labels)]
        var ids: [UInt32]
        var samples: [Sample]
        /// Exemplars of kept samples and their series (a sample's timestamp when they had none).
        var exemplarIDs: [UInt32] = []
        var exemplars: [Exemplar] = []
        /// Series that ended at this scrape (their stale markers are among `samples`).
        var ended: [UInt32]
        /// Why the scrape failed, if it did (nothing of its body is in the batch then).
        var error: String?
        var scraped: Int
        var kept: Int
        var added: Int
    }

    static let syntheticNames = ["up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_series_added"]

    /// The batch of a scrape at `t`: `answer` nil (with `failure`) means the target is down:
    /// `up` is 0 and every series of the last good scrape gets a stale marker.
    func ingest(
        _ answer: (body: [UInt8], contentType: String?)?, failure: String?, at t: Int64, duration: Double,
        state s: inout State, allocate: (Int) -> UInt32
    ) -> Batch {
        var newSeries: [(UInt32, Labels)] = []
        var ids: [UInt32] = []
        var samples: [Sample] = []
        var error = failure
        var scraped = 0, kept = 0, added = 0
        var ended: [UInt32] = []
        var exemplarIDs: [UInt32] = []
        var exemplars: [Exemplar] = []
        s.iteration += 1
        let iteration = s.iteration
        if let answer, error == nil {
            var parser = ExpositionParser(answer.body, format: ExpositionFormat(contentType: answer.contentType))
            parser.keepExemplars = keepExemplars
            let mark = (newSeries.count, ids.count)
            // The body stays alive in `answer` for the whole loop; keys are read through a
            // pointer, so a sample costs no slice, retain or generic compare.
            let limits = target.config.limits
            var failure: String?
            // The parser asks the cache about a sample's series before parsing its labels
            // (a series seen before is not parsed again); the answer is kept for the sample.
            var asked = false
            var answered: (id: UInt32, dropped: Bool, duplicate: Bool)?
            var metadata = ScrapedMetadata()
            answer.body.withUnsafeBytes { body in
                do {
                    while let entry = try parser.next(known: { key in
                        asked = true
                        answered = s.cache.lookup(key, iteration: iteration)
                        return answered != nil
                    }) {
                        guard case .sample(let sample) = entry else {
                            metadata.note(entry, body)
                            continue
                        }
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
                            id = allocate(1)
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
                        let timestamp = target.config.honorTimestamps ? (sample.timestamp ?? t) : t
                        samples.append(Sample(timestamp: timestamp, value: sample.value))
                        if let e = sample.exemplar {
                            exemplarIDs.append(id)
                            exemplars.append(Exemplar(labels: e.labels, value: e.value, timestamp: e.timestamp ?? timestamp))
                        }
                    }
                } catch let e {
                    failure = "parse error at \(e)"
                }
            }
            if failure == nil, metadata.fingerprint != s.metadataFingerprint,
                let entries = ScrapedMetadata.entries(answer.body, format: parser.format, fingerprint: metadata.fingerprint)
            {
                s.metadata = entries
                s.metadataFingerprint = metadata.fingerprint
            }
            if let failure {
                // Nothing of a failed scrape is written; the series it had not logged are forgotten.
                error = failure
                s.cache.remove(ids: Set(newSeries[mark.0...].map(\.0)), insertedIn: iteration)
                newSeries.removeSubrange(mark.0...)
                ids.removeSubrange(mark.1...)
                samples.removeAll()
                exemplarIDs.removeAll()
                exemplars.removeAll()
            }
        }
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
        if s.synthetic.isEmpty {
            let first = allocate(Self.syntheticNames.count)
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
        return Batch(
            newSeries: newSeries, ids: ids, samples: samples, exemplarIDs: exemplarIDs, exemplars: exemplars, ended: ended, error: error, scraped: scraped, kept: kept,
            added: added)
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
