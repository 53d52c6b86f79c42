import Logging
import Synchronization
import TributaryModel
import TributaryWAL

extension Head {
    /// Cuts the WAL and removes the segments before the cut after writing a ``Checkpoint`` of
    /// every live series, every sample still in the head (those not yet in a block) and every
    /// exemplar held, so what those segments held survives for replay. The caller first writes
    /// the head's old data to a block and truncates the head.
    ///
    /// The cut and the copy of the head happen under the commit lock, so the checkpoint is the
    /// state just before the first record of the kept segments: replay (checkpoint first, see
    /// ``replayWAL()``) applies each later commit and deletion once, in order.
    /// Returns the first segment kept (nil without a WAL).
    @discardableResult
    public func checkpoint() throws(StorageError) -> Int? {
        guard let wal else { return nil }
        do throws(WALError) {
            let writer = try CheckpointWriter(walDirectory: wal.directory)
            // Labels are read under the commit lock: series are removed only under it.
            let cut: Result<(Int, [(MemSeries, Labels, SeriesSnapshot?)]), WALError> = commitState.withLock { _ in
                do throws(WALError) {
                    let keep = try wal.cut()
                    return .success((keep, byID.withLock { $0.compactMap { $0 } }.map { ($0, $0.labels(symbols), snapshot($0, start: .min, end: .max)) }))
                } catch {
                    return .failure(error)
                }
            }
            let (segment, all) = try cut.get()
            var i = 0
            // 10,000 series a record: a checkpoint of many series is written in parts.
            while i < all.count {
                let part = all[i..<min(i + 10_000, all.count)]
                try writer.appendSeries(ids: part.map(\.0.id), labels: part.map(\.1))
                i += 10_000
            }
            // The head's samples, about 10,000 a record (a commit may log them again in a
            // kept segment: replay takes an exact repeat once).
            var ids: [UInt32] = []
            var samples: [Sample] = []
            var decoded: [Sample] = []
            for (series, _, snapshot) in all {
                guard let snapshot else { continue }
                decoded.removeAll(keepingCapacity: true)
                snapshot.appendAll(to: &decoded)
                for s in decoded {
                    ids.append(series.id)
                    samples.append(s)
                }
                if samples.count >= 10_000 {
                    try writer.appendSamples(ids: ids, samples: samples)
                    ids.removeAll(keepingCapacity: true)
                    samples.removeAll(keepingCapacity: true)
                }
            }
            try writer.appendSamples(ids: ids, samples: samples)
            // Exemplars live in memory only; without them here they would not survive the
            // removal of the segments that logged them.
            if let exemplars {
                // Only those of live series: a series the head dropped would be an unknown
                // series at every replay.
                let live = Set(all.map(\.0.id))
                let held = exemplars.all().filter { live.contains($0.0) }
                var k = 0
                while k < held.count {
                    let part = held[k..<min(k + 10_000, held.count)]
                    try writer.appendExemplars(ids: part.map(\.0), exemplars: part.map(\.1))
                    k += 10_000
                }
            }
            try writer.commit()
            try wal.truncate(before: segment)
            logger.info("WAL checkpointed", metadata: ["series": "\(writer.series)", "first_segment": "\(segment)"])
            return segment
        } catch {
            throw StorageError("cannot checkpoint the WAL: \(error.message)")
        }
    }
}
