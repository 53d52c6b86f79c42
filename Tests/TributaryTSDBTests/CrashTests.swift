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
    func runAndKill(dir: String, policy: String, firstBatch: Int, millis: Int) throws -> Int? {
        let process = Process()
        process.executableURL = Self.writer
        process.arguments = [dir, policy, String(firstBatch)]
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
}
