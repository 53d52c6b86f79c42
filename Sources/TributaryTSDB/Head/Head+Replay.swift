import Logging
import Synchronization
import TributaryModel
import TributaryWAL

extension Head {
    /// Rebuilds the head from the WAL: series records recreate series with their IDs, samples
    /// records are applied as the commits that wrote them were. A torn or corrupt tail is
    /// repaired by the WAL (see `Docs/wal.md`); samples of unknown series are dropped and
    /// counted. Call once, before the first commit.
    @discardableResult
    public func replayWAL() throws(StorageError) -> HeadReplayStats {
        guard let wal else { return HeadReplayStats() }
        var stats = HeadReplayStats()
        let outcome: Result<ReplayStats, WALError> = commitState.withLock { state in
            var series: [Unmanaged<MemSeries>] = []
            var samples: [Sample] = []
            do throws(WALError) {
                func handle(_ kind: Record.Kind, _ payload: UnsafeRawBufferPointer) {
                    switch kind {
                    case .series:
                        let ok = RecordCodec.decodeSeries(payload) { id, labels in
                            guard self.series(id: id) == nil else { return }
                            state.register(self.create(Labels(labels), hash: labels.stableHash, id: id))
                            stats.series += 1
                        }
                        if !ok { stats.malformedRecords += 1 }
                    case .samples:
                        series.removeAll(keepingCapacity: true)
                        samples.removeAll(keepingCapacity: true)
                        let ok = RecordCodec.decodeSamples(payload) { id, sample in
                            guard let s = self.series(id: id) else {
                                stats.samplesOfUnknownSeries += 1
                                return
                            }
                            series.append(Unmanaged.passUnretained(s))
                            samples.append(sample)
                        }
                        if !ok { stats.malformedRecords += 1 }
                        stats.samples += apply(series: series, samples: samples, learnIntervals: true)
                    case .deletions:
                        guard let (ids, minTime, maxTime) = RecordCodec.decodeDeletions(payload) else {
                            stats.malformedRecords += 1
                            return
                        }
                        for id in ids {
                            guard let s = self.series(id: id) else { continue }
                            applyDeletion(s, start: minTime, end: maxTime)
                        }
                    case .exemplars:
                        guard let exemplars else { return }
                        let ok = RecordCodec.decodeExemplars(payload) { id, exemplar in
                            guard let s = self.series(id: id) else {
                                stats.exemplarsOfUnknownSeries += 1
                                return
                            }
                            // Logged exemplars passed these checks once; a checkpoint may
                            // repeat ones the segments after it hold.
                            guard ExemplarCheck(exemplar, newest: exemplars.newest(of: id)) == .append else { return }
                            exemplars.add(id, s.labels(symbols), exemplar)
                            stats.exemplars += 1
                        }
                        if !ok { stats.malformedRecords += 1 }
                    }
                }
                // The checkpoint first: series whose records were in removed segments.
                try Checkpoint.read(wal.directory, logger: logger, handle)
                let walStats = try wal.replay(handle)
                return .success(walStats)
            } catch {
                return .failure(error)
            }
        }
        switch outcome {
        case .success(let walStats):
            stats.wal = walStats
            if stats.samplesOfUnknownSeries > 0 || stats.exemplarsOfUnknownSeries > 0 || stats.malformedRecords > 0 {
                logger.warning(
                    "WAL replay dropped data",
                    metadata: [
                        "samples_of_unknown_series": "\(stats.samplesOfUnknownSeries)",
                        "exemplars_of_unknown_series": "\(stats.exemplarsOfUnknownSeries)", "malformed_records": "\(stats.malformedRecords)"
                    ])
            }
            return stats
        case .failure(let error):
            throw StorageError("cannot replay the WAL: \(error.message)")
        }
    }
}

/// What a WAL replay restored.
public struct HeadReplayStats: Sendable, Equatable {
    public var series = 0
    public var samples = 0
    public var samplesOfUnknownSeries = 0
    public var exemplars = 0
    public var exemplarsOfUnknownSeries = 0
    public var malformedRecords = 0
    public var wal = ReplayStats()
    public init() {}
}
