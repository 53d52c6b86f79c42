import Foundation
import Logging
import Synchronization
import TributaryModel
import TributaryRemoteWrite
import TributaryTSDB
import TributaryWire

/// An HTTP answer independent of the server library.
public struct HTTPAnswer: Sendable {
    public var status: Int
    public var headers: [(String, String)] = []
    public var body: [UInt8] = []
    /// Set when the body is sent while it is being written (a large query answer); `body` is
    /// then empty.
    var stream: BodyStream?

    init(status: Int, headers: [(String, String)] = [], body: [UInt8] = [], stream: BodyStream? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.stream = stream
    }

    static func text(_ status: Int, _ message: String, headers: [(String, String)] = []) -> HTTPAnswer {
        HTTPAnswer(status: status, headers: headers + [("Content-Type", "text/plain; charset=utf-8")], body: Array((message + "\n").utf8))
    }
}

extension Receiver {
    /// `POST /api/v1/write`: decodes, deduplicates HA replicas, appends and commits through the
    /// WAL, and answers with the status codes of ARCHITECTURE.md. Every refusal is counted by
    /// reason and logged (rate-limited) with its first cause.
    public func write(body: [UInt8], contentType: String?, contentEncoding: String?, peer: String = "", forwardedBy: String? = nil) -> HTTPAnswer {
        write(body: body, contentType: contentType, contentEncoding: contentEncoding, peer: peer, forwardedBy: forwardedBy, settings: live.withLock { $0 })
    }

    /// ``write(body:contentType:contentEncoding:peer:)`` with the settings the caller already
    /// read for this request (the server checked auth and the body size with them).
    func write(body: [UInt8], contentType: String?, contentEncoding: String?, peer: String, forwardedBy: String? = nil, settings: LiveSettings) -> HTTPAnswer {
        let (answer, reason): (HTTPAnswer, RejectionReason?)
        if let loop = forwardingPath.check(forwardedBy) {
            (answer, reason) = (.text(400, loop), .forwardingLoop)
        } else {
            (answer, reason) = handleWrite(body: body, contentType: contentType, contentEncoding: contentEncoding, settings: settings)
        }
        metrics.answered(answer.status, refused: reason)
        if let reason {
            badRequests.warning(
                "remote write refused",
                metadata: [
                    "status": "\(answer.status)", "reason": "\(reason.rawValue)", "peer": "\(peer)", "bytes": "\(body.count)",
                    "error": "\(String(decoding: answer.body, as: UTF8.self).trimmingCharacters(in: .newlines))"
                ])
        }
        return answer
    }

    /// Answers a refusal of the whole request before its body is read (counted and logged).
    func refuseRequest(_ reason: RejectionReason, status: Int, message: String, bytes: Int) -> HTTPAnswer {
        let answer = HTTPAnswer.text(status, message)
        metrics.answered(status, refused: reason)
        badRequests.warning("remote write refused", metadata: ["status": "\(status)", "reason": "\(reason.rawValue)", "bytes": "\(bytes)"])
        return answer
    }

    func handleWrite(body: [UInt8], contentType: String?, contentEncoding: String?, settings: LiveSettings) -> (HTTPAnswer, RejectionReason?) {
        guard let version = RemoteWriteVersion(contentType: contentType ?? "application/x-protobuf") else {
            return (.text(415, "unsupported content type \"\(contentType ?? "")\": use application/x-protobuf (remote write 1.0) or application/x-protobuf;proto=io.prometheus.write.v2.Request"), .unsupportedContentType)
        }
        if let encoding = contentEncoding, !encoding.isEmpty, encoding.lowercased() != "snappy" {
            return (.text(415, "unsupported content encoding \"\(encoding)\": remote write uses snappy"), .unsupportedEncoding)
        }
        if head.isOverMemoryBudget {
            return (.text(429, "the receiver is over its memory budget; retry later", headers: [("Retry-After", "5")]), .overBudget)
        }
        return withDecoder(settings) { decoder -> (HTTPAnswer, RejectionReason?) in
            let batch: WriteBatch
            do {
                batch = try body.withUnsafeBytes { raw in try decoder.decode(raw, version: version) }
            } catch let error as WireError {
                return (.text(error.code == .bodyTooLarge ? 413 : 400, error.message), RejectionReason(error.code))
            } catch {
                return (.text(400, "\(error)"), .protobuf)
            }
            return store(batch, version: version, settings: settings)
        }
    }

    func store(_ batch: WriteBatch, version: RemoteWriteVersion, settings: LiveSettings) -> (HTTPAnswer, RejectionReason?) {
        metrics.received(batch.sampleCount + batch.rejectedSamples)
        metadata.set(batch.metadata)
        var firstAppendError: (message: String, reason: RejectionReason)?
        var refused: [RejectionReason: Int] = [:]
        var dedup = DedupTally()
        var exemplars = ExemplarTally()
        var fills = ReplicaFills()
        let window = settings.dedupWindow, replicaLabelNames = settings.replicaLabelNames
        var stripped: [UInt8] = []
        func refuse(_ error: AppendError, _ series: Int, _ labels: LabelsView) {
            let reason = RejectionReason(error)
            refused[reason, default: 0] += 1
            if firstAppendError == nil { firstAppendError = ("series \(series) \(Labels(labels)): \(error)", reason) }
        }
        // With forwarding, what is stored is also collected, per series, to log upstream.
        let forwarding = forwarder.isActive
        var forwarded: [(Labels, [Sample], [Exemplar])] = []
        let result: CommitResult
        do {
            result = try head.commit { commit in
                for series in batch.series {
                    batch.withLabels(of: series) { labels in
                        let replica = Self.stripReplica(labels, replicaLabelNames, into: &stripped)
                        stripped.withUnsafeBytes { raw in
                            let target = replica == nil ? labels : LabelsView(raw)
                            var kept: [Sample] = []
                            var fromReplica = 0
                            for sample in batch.samples(of: series) {
                                if let replica, window > 0 {
                                    switch commit.appendDeduplicated(target, sample, replica: replica, window: window) {
                                    case .appended:
                                        fromReplica += 1
                                        if forwarding { kept.append(sample) }
                                    case .duplicateWindow: dedup.replica += 1
                                    case .late: dedup.late += 1
                                    case .staleSuppressed: dedup.stale += 1
                                    case .refused(let e): refuse(e, Int(series.requestIndex), target)
                                    }
                                } else if let e = commit.append(target, sample) {
                                    refuse(e, Int(series.requestIndex), target)
                                } else if forwarding {
                                    kept.append(sample)
                                }
                            }
                            if let replica { fills.add(fromReplica, labels: labels, replica: replica, replicaLabelNames: replicaLabelNames) }
                            // After the samples, so the series exists when they created it.
                            var keptExemplars: [Exemplar] = []
                            if series.exemplarsEnd > series.exemplarsStart {
                                let exemplarWindow = replica == nil ? 0 : window
                                for e in batch.exemplars(of: series) {
                                    let outcome = commit.appendExemplar(target, e, dedupWindow: exemplarWindow)
                                    exemplars.count(outcome, series: Int(series.requestIndex), target, e)
                                    if forwarding, outcome == .appended { keptExemplars.append(e) }
                                }
                            }
                            if !kept.isEmpty || !keptExemplars.isEmpty { forwarded.append((Labels(target), kept, keptExemplars)) }
                        }
                    }
                }
            }
            if !forwarded.isEmpty { try forwarder.forward(forwarded) }
        } catch {
            logger.error("cannot store a write", metadata: ["error": "\(error)"])
            return (.text(503, "storage failure: \(error)", headers: [("Retry-After", "1")]), .storage)
        }
        metrics.stored(result.samplesStored, deduplicated: dedup, repeated: result.duplicatesIgnored)
        fills.flush()
        metrics.replicaFills.record(fills, now: fills.counts.isEmpty ? 0 : nowMs)
        if db.headNeedsPersisting { maintenanceWanted.store(true, ordering: .relaxed) }
        for (reason, count) in refused { metrics.rejected(count, reason) }
        if let error = batch.firstError { metrics.rejected(batch.rejectedSamples, RejectionReason(error.code)) }
        exemplars.stored = result.exemplarsStored
        exemplars.record(batch, metrics)
        metrics.rejectedHistograms(batch.histogramCount - batch.malformedHistograms, .nativeHistogram)
        metrics.rejectedHistograms(batch.malformedHistograms, .malformedHistogram)
        metrics.rejectedHistograms(batch.rejectedHistograms, .invalidSeries)

        var headers: [(String, String)] = []
        if version == .v2 {
            headers = [
                ("X-Prometheus-Remote-Write-Samples-Written", String(result.samplesStored + dedup.total + result.duplicatesIgnored)),
                // Native histograms are refused until they are stored.
                ("X-Prometheus-Remote-Write-Histograms-Written", "0"),
                ("X-Prometheus-Remote-Write-Exemplars-Written", String(exemplars.written))
            ]
        }
        // Every kind of data not written is named (the first of each, with how many more), so a
        // 400 says all that went wrong; the reason counted is the first problem's.
        var problems: [(message: String, reason: RejectionReason)] = []
        if let error = batch.firstError {
            problems.append((error.message + (batch.rejectedSeries > 1 ? " (and \(batch.rejectedSeries - 1) more series)" : ""), RejectionReason(error.code)))
        }
        if let (message, reason) = firstAppendError {
            let total = refused.values.reduce(0, +)
            problems.append((message + (total > 1 ? " (and \(total - 1) more samples)" : ""), reason))
        }
        if let problem = histogramProblem(batch) { problems.append(problem) }
        if let problem = exemplars.problem(batch) { problems.append(problem) }
        guard let first = problems.first else { return (HTTPAnswer(status: 204, headers: headers), nil) }
        return (.text(400, problems.map(\.message).joined(separator: "; "), headers: headers), first.reason)
    }

    /// The 400 message for the request's native histograms: the first malformed one, or else
    /// the first series that carries any (they are refused until they can be stored).
    func histogramProblem(_ batch: WriteBatch) -> (message: String, reason: RejectionReason)? {
        if let bad = batch.firstMalformedHistogram {
            let labels = batch.describeSeries(requestIndex: bad.seriesIndex)
            let more = batch.malformedHistograms > 1 ? " (\(batch.malformedHistograms) malformed histograms in all)" : ""
            return ("series \(bad.seriesIndex) \(labels): native histogram \(bad.histogramIndex) at t=\(bad.timestamp) is malformed: \(bad.problem)\(more); no histogram was written", .malformedHistogram)
        }
        guard batch.histogramCount > 0, let series = batch.series.first(where: { $0.histogramCount > 0 }) else { return nil }
        return (
            "series \(series.requestIndex) \(batch.labels(of: series)): native histograms are not stored yet (\(batch.histogramCount) histogram samples refused; the float samples and exemplars were stored)",
            .nativeHistogram
        )
    }

    /// Writes `labels` without the replica labels into `out`; returns a hash of the replica
    /// label values, or nil when the series has none (then `out` is not used).
    static func stripReplica(_ labels: LabelsView, _ replicaLabelNames: [[UInt8]], into out: inout [UInt8]) -> UInt64? {
        var hash: UInt64 = 0
        var found = false
        labels.forEach { name, value in
            if isReplicaLabel(name, replicaLabelNames) {
                found = true
                hash = hash &* 31 &+ StableHash.hash(value)
            }
        }
        guard found else { return nil }
        out.removeAll(keepingCapacity: true)
        labels.forEach { name, value in
            if !isReplicaLabel(name, replicaLabelNames) { FlatLabels.append(name: name, value: value, to: &out) }
        }
        return hash
    }

    @inline(__always)
    static func isReplicaLabel(_ name: UnsafeRawBufferPointer, _ replicaLabelNames: [[UInt8]]) -> Bool {
        for candidate in replicaLabelNames where candidate.count == name.count {
            if candidate.withUnsafeBytes({ FlatLabels.equal($0, name) }) { return true }
        }
        return false
    }
}

/// What became of a write's exemplars, for the Exemplars-Written header, the counters and the
/// 400 message.
struct ExemplarTally {
    var stored = 0
    /// Equal to the newest of their series, or deduplicated (HA): written, not stored again.
    var deduplicated = 0
    var outOfOrder = 0
    var disabled = 0
    var firstRefused: String?
    var firstReason: RejectionReason?

    /// Exemplars accepted: stored or already held.
    var written: Int { stored + deduplicated }

    mutating func count(_ outcome: ExemplarOutcome, series: Int, _ labels: LabelsView, _ e: Exemplar) {
        switch outcome {
        case .appended: break
        case .duplicate, .deduplicated: deduplicated += 1
        case .outOfOrder(let newest):
            outOfOrder += 1
            if firstRefused == nil {
                firstRefused = "series \(series) \(Labels(labels)): exemplar \(e.labels) at t=\(e.timestamp) is out of order (the series' newest exemplar is at t=\(newest))"
                firstReason = .exemplarOutOfOrder
            }
        case .disabled:
            disabled += 1
            if firstRefused == nil {
                firstRefused = "series \(series) \(Labels(labels)): exemplar storage is off (storage.exemplars.max_exemplars is 0)"
                firstReason = .exemplarsDisabled
            }
        }
    }

    func record(_ batch: WriteBatch, _ metrics: ReceiverMetrics) {
        metrics.exemplars(received: batch.exemplars.count + batch.droppedExemplars, stored: stored, deduplicated: deduplicated)
        metrics.rejectedExemplars(outOfOrder, .exemplarOutOfOrder)
        metrics.rejectedExemplars(disabled, .exemplarsDisabled)
        metrics.rejectedExemplars(batch.droppedExemplars, .exemplarLabelsTooLong)
    }

    func problem(_ batch: WriteBatch) -> (message: String, reason: RejectionReason)? {
        let refused = outOfOrder + disabled + batch.droppedExemplars
        guard refused > 0 else { return nil }
        let more = refused > 1 ? " (\(refused) exemplars refused in all)" : ""
        if let firstRefused, let firstReason { return (firstRefused + more, firstReason) }
        let index = batch.firstDroppedExemplarSeries ?? -1
        let labels = batch.describeSeries(requestIndex: index)
        return ("series \(index) \(labels): exemplar labels longer than \(Exemplar.maxLabelSetRunes) code points\(more)", .exemplarLabelsTooLong)
    }
}

/// Samples HA deduplication dropped in one write, by reason (the `reason` label of
/// `tributary_remote_write_samples_deduplicated_total`).
struct DedupTally {
    /// Within half an interval of the sample the series holds: the other replica's scrape.
    var replica = 0
    /// At or before the newest sample held: a late replica's backlog.
    var late = 0
    /// A stale marker while the other replica still reports the series.
    var stale = 0

    var total: Int { replica + late + stale }
}
