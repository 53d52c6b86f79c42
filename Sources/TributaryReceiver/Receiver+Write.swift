import Foundation
import Logging
import Synchronization
import TributaryModel
import TributaryTSDB
import TributaryWire

/// An HTTP answer independent of the server library.
public struct HTTPAnswer: Sendable {
    public var status: Int
    public var headers: [(String, String)] = []
    public var body: [UInt8] = []

    init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    static func text(_ status: Int, _ message: String, headers: [(String, String)] = []) -> HTTPAnswer {
        HTTPAnswer(status: status, headers: headers + [("Content-Type", "text/plain; charset=utf-8")], body: Array((message + "\n").utf8))
    }
}

extension Receiver {
    /// `POST /api/v1/write`: decodes, deduplicates HA replicas, appends and commits through the
    /// WAL, and answers with the status codes of ARCHITECTURE.md. Every refusal is counted by
    /// reason and logged (rate-limited) with its first cause.
    public func write(body: [UInt8], contentType: String?, contentEncoding: String?, peer: String = "") -> HTTPAnswer {
        write(body: body, contentType: contentType, contentEncoding: contentEncoding, peer: peer, settings: live.withLock { $0 })
    }

    /// ``write(body:contentType:contentEncoding:peer:)`` with the settings the caller already
    /// read for this request (the server checked auth and the body size with them).
    func write(body: [UInt8], contentType: String?, contentEncoding: String?, peer: String, settings: LiveSettings) -> HTTPAnswer {
        let (answer, reason) = handleWrite(body: body, contentType: contentType, contentEncoding: contentEncoding, settings: settings)
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
        for m in batch.metadata { metadata.withLock { $0[m.metricFamilyName] = m } }
        var firstAppendError: (message: String, reason: RejectionReason)?
        var refused: [RejectionReason: Int] = [:]
        var deduplicated = 0
        let window = settings.dedupWindow, replicaLabelNames = settings.replicaLabelNames
        var stripped: [UInt8] = []
        func refuse(_ error: AppendError, _ series: Int, _ labels: LabelsView) {
            let reason = RejectionReason(error)
            refused[reason, default: 0] += 1
            if firstAppendError == nil { firstAppendError = ("series \(series) \(Labels(labels)): \(error)", reason) }
        }
        // With forwarding, what is stored is also collected, per series, to log upstream.
        let forwarding = forwarder != nil
        var forwarded: [(Labels, [Sample])] = []
        let result: CommitResult
        do {
            result = try head.commit { commit in
                for series in batch.series {
                    batch.withLabels(of: series) { labels in
                        let replica = Self.stripReplica(labels, replicaLabelNames, into: &stripped)
                        stripped.withUnsafeBytes { raw in
                            let target = replica == nil ? labels : LabelsView(raw)
                            var kept: [Sample] = []
                            for sample in batch.samples(of: series) {
                                if let replica, window > 0 {
                                    switch commit.appendDeduplicated(target, sample, replica: replica, window: window) {
                                    case .appended: if forwarding { kept.append(sample) }
                                    case .duplicateWindow, .staleSuppressed: deduplicated += 1
                                    case .refused(let e): refuse(e, Int(series.requestIndex), target)
                                    }
                                } else if let e = commit.append(target, sample) {
                                    refuse(e, Int(series.requestIndex), target)
                                } else if forwarding {
                                    kept.append(sample)
                                }
                            }
                            if !kept.isEmpty { forwarded.append((Labels(target), kept)) }
                        }
                    }
                }
            }
            if let forwarder, !forwarded.isEmpty { try forwarder.forward(forwarded) }
        } catch {
            logger.error("cannot store a write", metadata: ["error": "\(error)"])
            return (.text(503, "storage failure: \(error)", headers: [("Retry-After", "1")]), .storage)
        }
        metrics.stored(result.samplesStored, deduplicated: deduplicated, repeated: result.duplicatesIgnored)
        for (reason, count) in refused { metrics.rejected(count, reason) }
        if let error = batch.firstError { metrics.rejected(batch.rejectedSamples, RejectionReason(error.code)) }
        var headers: [(String, String)] = []
        if version == .v2 {
            headers = [
                ("X-Prometheus-Remote-Write-Samples-Written", String(result.samplesStored + deduplicated + result.duplicatesIgnored)),
                ("X-Prometheus-Remote-Write-Histograms-Written", "0"),
                ("X-Prometheus-Remote-Write-Exemplars-Written", "0")
            ]
        }
        if let error = batch.firstError {
            return (.text(400, error.message + (batch.rejectedSeries > 1 ? " (and \(batch.rejectedSeries - 1) more series)" : ""), headers: headers), RejectionReason(error.code))
        }
        if let (message, reason) = firstAppendError {
            let total = refused.values.reduce(0, +)
            return (.text(400, message + (total > 1 ? " (and \(total - 1) more samples)" : ""), headers: headers), reason)
        }
        return (HTTPAnswer(status: 204, headers: headers), nil)
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
