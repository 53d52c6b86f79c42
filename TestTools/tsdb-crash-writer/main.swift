// Test helper for the crash test (Tests/TributaryTSDBTests/CrashTests.swift): opens a head with
// a WAL in DIR, replays it, then commits batch after batch and prints "ACK <batch>" after each
// commit returns, until it is killed. Batch b holds, for series 0..<100, the sample
// (t = b * 1000, v = b * 100 + series). With `blocks`, blocks are one minute long and another
// thread writes the head to blocks, compacts and applies retention without pause, so the kill
// lands in the middle of those too.
//   tsdb-crash-writer DIR always|batch FIRST_BATCH [blocks]
import Foundation
import TributaryModel
import TributaryTSDB
import TributaryWAL

let args = CommandLine.arguments
guard args.count >= 4, let policy = WAL.FsyncPolicy(rawValue: args[2]), let first = Int(args[3]) else {
    FileHandle.standardError.write(Data("usage: tsdb-crash-writer DIR always|batch FIRST_BATCH [blocks]\n".utf8))
    exit(2)
}
/// The settings of the `blocks` mode (the test reopens with the same).
func blockOptions() -> (HeadOptions, DBOptions) {
    var head = HeadOptions()
    head.chunkRange = 60_000
    var db = DBOptions()
    db.blockDuration = 60_000
    db.retentionTime = 20 * 60_000
    return (head, db)
}
do {
    let wal = try WAL(directory: args[1] + "/wal", options: .init(segmentSize: 256 << 10, fsync: policy))
    let blocks = args.count > 4 && args[4] == "blocks"
    let head = Head(options: blocks ? blockOptions().0 : HeadOptions(), wal: wal)
    try head.replayWAL()
    if blocks {
        let db = try DB(directory: args[1], head: head, options: blockOptions().1)
        Thread {
            while true {
                do { try db.maintain() } catch { FileHandle.standardError.write(Data("maintain: \(error)\n".utf8)) }
                Thread.sleep(forTimeInterval: 0.005)
            }
        }.start()
    }
    let series: [Labels] = (0..<100).map { ["__name__": "crash_test", "series": "\($0)"] }
    var batch = first
    while true {
        _ = try head.commit { b in
            for (i, labels) in series.enumerated() {
                _ = b.append(labels, Sample(timestamp: Int64(batch) * 1000, value: Double(batch * 100 + i)))
            }
        }
        FileHandle.standardOutput.write(Data("ACK \(batch)\n".utf8))  // unbuffered: the ACK leaves now
        batch += 1
    }
} catch {
    FileHandle.standardError.write(Data("tsdb-crash-writer: \(error)\n".utf8))
    exit(1)
}
