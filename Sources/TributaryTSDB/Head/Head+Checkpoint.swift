import Synchronization
import TributaryModel
import TributaryWAL

extension Head {
    /// Hook for block persistence: starts a new WAL segment that begins with a series record
    /// of every live series, so the segments before it are no longer needed to resolve series
    /// IDs. Once their samples are in a block, `wal.truncate(before:)` with the returned
    /// segment number removes them.
    /// - Returns: the first segment that must be kept, or nil without a WAL.
    public func checkpointSeries() throws(StorageError) -> Int? {
        guard let wal else { return nil }
        let outcome: Result<Int, WALError> = commitState.withLock { _ in
            do throws(WALError) {
                let segment = try wal.cut()
                let all = byID.withLock { $0.compactMap { $0 } }
                var record: [UInt8] = []
                var i = 0
                while i < all.count {
                    let part = all[i..<min(i + 10_000, all.count)]
                    RecordCodec.appendSeries(ids: part.map(\.id), labels: part.map(\.labels), to: &record)
                    i += 10_000
                }
                try wal.log(record)
                return .success(segment)
            } catch {
                return .failure(error)
            }
        }
        switch outcome {
        case .success(let segment): return segment
        case .failure(let error): throw StorageError("cannot checkpoint the WAL: \(error.message)")
        }
    }
}
