import Foundation
import Testing
import TributaryModel
import TributaryTSDB
import TributaryWAL

/// A child process commits batches and prints "ACK n" after each commit returns; it is killed
/// with SIGKILL at a random moment. The reopened head must hold every acknowledged sample.
@Suite(.serialized) struct CrashTests {
    static var writer: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/debug/tsdb-crash-writer").standardized
    }

    /// Runs the writer until SIGKILL after `millis`; returns the last acknowledged batch.
    func runAndKill(dir: String, policy: String, firstBatch: Int, millis: Int, blocks: Bool = false) throws -> Int? {
        let process = Process()
        process.executableURL = Self.writer
        process.arguments = [dir, policy, String(firstBatch)] + (blocks ? ["blocks"] : [])
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        Thread.sleep(forTimeInterval: Double(millis) / 1000)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return output.split(separator: "\n").compactMap { line -> Int? in
            line.hasPrefix("ACK ") ? Int(line.dropFirst(4)) : nil
        }.last
    }

    @Test func everyAcknowledgedSampleSurvivesSIGKILL() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.writer.path), "build the writer: swift build --product tsdb-crash-writer")
        var rng = SystemRandomNumberGenerator()
        for round in 0..<20 {
            let dir = TempDir()
            defer { dir.cleanup() }
            let policy = round % 4 == 0 ? "always" : "batch"
            let millis = Int.random(in: 150...600, using: &rng)
            let lastAck = try runAndKill(dir: dir.path, policy: policy, firstBatch: 1, millis: millis)
            let acked = try #require(lastAck, "round \(round): the writer acknowledged nothing in \(millis) ms")
            // Restart once more mid-run: the second life continues after the first's data.
            let secondAck = try runAndKill(dir: dir.path, policy: policy, firstBatch: acked + 1, millis: 200) ?? acked

            let wal = try WAL(directory: dir.path + "/wal")
            let head = Head(wal: wal)
            try head.replayWAL()
            let stored = try head.querier().dump([try Matcher(.equal, "__name__", "crash_test")])
            #expect(stored.count == 100)
            for (labels, samples) in stored {
                let i = Int(labels.value(of: "series") ?? "") ?? -1
                let byBatch = Dictionary(samples.map { (Int($0.timestamp / 1000), $0.value) }, uniquingKeysWith: { a, _ in a })
                for batch in 1...secondAck {
                    #expect(byBatch[batch] == Double(batch * 100 + i), "round \(round) (\(policy)): series \(i) lost acknowledged batch \(batch) of \(secondAck)")
                    if byBatch[batch] != Double(batch * 100 + i) { return }
                }
            }
        }
    }

    /// The same with blocks one minute long and a thread writing blocks, compacting and
    /// applying retention (20 min) all the time: killed in the middle of any of them, the
    /// reopened store holds every acknowledged sample of the retained range, once.
    @Test func everyAcknowledgedSampleSurvivesSIGKILLDuringBlockWork() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.writer.path), "build the writer: swift build --product tsdb-crash-writer")
        var rng = SystemRandomNumberGenerator()
        var blocksSeen = 0
        for round in 0..<5 {
            let dir = TempDir()
            defer { dir.cleanup() }
            let millis = Int.random(in: 300...1500, using: &rng)
            let acked = try #require(try runAndKill(dir: dir.path, policy: "batch", firstBatch: 1, millis: millis, blocks: true), "round \(round): nothing acknowledged")
            let secondAck = try runAndKill(dir: dir.path, policy: "batch", firstBatch: acked + 1, millis: Int.random(in: 200...800, using: &rng), blocks: true) ?? acked

            var headOptions = HeadOptions()
            headOptions.chunkRange = 60_000
            var options = DBOptions()
            options.blockDuration = 60_000
            options.retentionTime = 20 * 60_000
            let head = Head(options: headOptions, wal: try WAL(directory: dir.path + "/wal"))
            try head.replayWAL()
            let db = try DB(directory: dir.path, head: head, options: options)
            let blocks = db.blocks.count
            blocksSeen += blocks
            print("crash round \(round): acknowledged \(secondAck) batches, \(blocks) blocks, head from \(head.minTime)")
            let stored = try db.querier().dump([try Matcher(.equal, "__name__", "crash_test")])
            #expect(stored.count == 100, "round \(round): \(stored.count) series")
            // Retention may have removed whole blocks older than 20 minutes behind the newest.
            let oldestKept = max(1, secondAck - 18 * 60)
            for (labels, samples) in stored {
                let i = Int(labels.value(of: "series") ?? "") ?? -1
                let doubled = zip(samples, samples.dropFirst()).contains { $0.timestamp >= $1.timestamp }
                #expect(!doubled, "round \(round): series \(i) has a timestamp twice or out of order")
                let byBatch = Dictionary(samples.map { (Int($0.timestamp / 1000), $0.value) }, uniquingKeysWith: { a, _ in a })
                for batch in oldestKept...secondAck where byBatch[batch] != Double(batch * 100 + i) {
                    Issue.record("round \(round) (\(blocks) blocks, acked \(secondAck)): series \(i) lost acknowledged batch \(batch)")
                    return
                }
            }
            // Maintenance after the restart leaves blocks that do not overlap.
            try db.maintain()
            let ranges = db.blocks.map { ($0.minTime, $0.maxTime) }
            #expect(!zip(ranges, ranges.dropFirst()).contains { $0.1 > $1.0 }, "round \(round): overlapping blocks after maintenance: \(ranges)")
        }
        #expect(blocksSeen > 5, "the kills landed while blocks were being written: \(blocksSeen) blocks in 5 rounds")
    }
}
