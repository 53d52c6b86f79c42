import Logging
import Synchronization
import TributaryModel
import TributaryWAL

extension Head {
    /// Removes the WAL segments before `segment` after writing a ``Checkpoint`` of every live
    /// series, every sample still in the head (those not yet in a block) and every exemplar
    /// held, so what those segments held survives for replay. The caller first writes the
    /// head's old data to a block and truncates the head, then cuts the WAL so that `segment`
    /// starts after them:
    ///
    ///     let keep = try wal.cut()
    ///     try head.checkpoint(before: keep)
    ///
    /// A series created after the cut has its record in a kept segment; one created before it
    /// is live now, so it is in the checkpoint. ``replayWAL()`` reads the checkpoint first.
    public func checkpoint(before segment: Int) throws(StorageError) {
        guard let wal else { return }
        do throws(WALError) {
            let writer = try CheckpointWriter(walDirectory: wal.directory)
            // Under the commit lock: a commit in flight has registered its series, or will log
            // them after the caller's cut.
            let all: [(MemSeries, SeriesSnapshot?)] = commitState.withLock { _ in
                byID.withLock { $0.compactMap { $0 } }.map { ($0, snapshot($0, start: .min, end: .max)) }
            }
            var i = 0
            // 10,000 series a record: a checkpoint of many series is written in parts.
            while i < all.count {
                let part = all[i..<min(i + 10_000, all.count)]
                try writer.appendSeries(ids: part.map(\.0.id), labels: part.map(\.0.labels))
                i += 10_000
            }
            // The head's samples, about 10,000 a record (a commit may log them again in a
            // kept segment: replay takes an exact repeat once).
            var ids: [UInt32] = []
            var samples: [Sample] = []
            var decoded: [Sample] = []
            for (series, snapshot) in all {
                guard let snapshot else { continue }
                decoded.removeAll(keepingCapacity: true)
                snapshot.appendAll(start: .min, end: .max, to: &decoded)
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
        } catch {
            throw StorageError("cannot checkpoint the WAL: \(error.message)")
        }
    }
}
