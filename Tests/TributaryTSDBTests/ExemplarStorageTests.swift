import Foundation
import Testing
import TributaryModel
import TributaryWAL

@testable import TributaryTSDB

@Suite struct ExemplarStorageTests {
    static func e(_ trace: String, _ v: Double, _ t: Int64) -> Exemplar {
        Exemplar(labels: ["trace_id": trace], value: v, timestamp: t)
    }

    @Test func ringOverwritesTheOldestOfAll() {
        let store = ExemplarStorage(capacity: 3)
        let a: Labels = ["__name__": "a"], b: Labels = ["__name__": "b"]
        store.add(1, a, Self.e("a1", 1, 10))
        store.add(2, b, Self.e("b1", 1, 11))
        store.add(1, a, Self.e("a2", 2, 12))
        store.add(2, b, Self.e("b2", 2, 13))  // overwrites a1
        store.add(2, b, Self.e("b3", 3, 14))  // overwrites b1
        #expect(store.count == 3)
        let all = store.select(start: .min, end: .max) { _ in true }
        #expect(all.map(\.labels) == [a, b])
        #expect(all[0].exemplars.map(\.timestamp) == [12])
        #expect(all[1].exemplars.map(\.timestamp) == [13, 14])
        store.add(2, b, Self.e("b4", 4, 15))  // overwrites a2: series a is gone
        #expect(store.seriesCount == 1)
        #expect(store.select(start: 14, end: 15) { _ in true }.first?.exemplars.map(\.timestamp) == [14, 15])
        #expect(store.all().map(\.1.timestamp) == [13, 14, 15], "oldest first, for a checkpoint")
    }

    @Test func checksFollowPrometheus() {
        let newest = Self.e("x", 2, 100)
        #expect(ExemplarCheck(Self.e("x", 2, 100), newest: newest) == .duplicate)
        #expect(ExemplarCheck(Self.e("y", 1, 99), newest: newest) == .outOfOrder(newest: 100))
        #expect(ExemplarCheck(Self.e("y", 1, 100), newest: newest) == .outOfOrder(newest: 100), "same time, lower value")
        #expect(ExemplarCheck(Self.e("y", 3, 100), newest: newest) == .append, "same time, higher value (native histogram buckets)")
        #expect(ExemplarCheck(Self.e("y", 1, 101), newest: newest) == .append)
        #expect(ExemplarCheck(Self.e("y", 1, 1), newest: nil) == .append)
        #expect(ExemplarCheck(Exemplar(labels: ["t": "1"], value: .nan, timestamp: 5), newest: Exemplar(labels: ["t": "1"], value: .nan, timestamp: 5)) == .duplicate, "NaN equal by bits")
    }

    @Test func commitValidatesAgainstQueuedAndStored() throws {
        let head = Head()
        let labels: Labels = ["__name__": "m_total"]
        var outcomes: [ExemplarOutcome] = []
        _ = try head.commit { batch in
            labels.withView { v in
                _ = batch.append(v, Sample(timestamp: 10, value: 1))
                outcomes.append(batch.appendExemplar(v, Self.e("a", 1, 10)))
                outcomes.append(batch.appendExemplar(v, Self.e("b", 1, 5)))  // older than the queued one
                outcomes.append(batch.appendExemplar(v, Self.e("a", 1, 10)))  // equal to the queued one
            }
        }
        #expect(outcomes == [.appended, .outOfOrder(newest: 10), .duplicate])
        let result = try head.commit { batch in
            labels.withView { v in outcomes = [batch.appendExemplar(v, Self.e("c", 1, 9)), batch.appendExemplar(v, Self.e("c", 1, 20))] }
        }
        #expect(outcomes == [.outOfOrder(newest: 10), .appended])
        #expect(result.exemplarsStored == 1)
        #expect(head.exemplars?.select(start: .min, end: .max) { _ in true }.first?.exemplars.map(\.timestamp) == [10, 20])
    }

    @Test func checkpointKeepsExemplarsAcrossTruncation() throws {
        let dir = NSTemporaryDirectory() + "exemplars-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let labels: Labels = ["__name__": "m_total"]
        do {
            let wal = try WAL(directory: dir, options: .init(segmentSize: 4096, fsync: .always))
            let head = Head(wal: wal)
            try head.replayWAL()
            for i in 0..<50 {
                _ = try head.commit { batch in
                    labels.withView { v in
                        _ = batch.append(v, Sample(timestamp: Int64(i) * 1000, value: Double(i)))
                        _ = batch.appendExemplar(v, Self.e("t\(i)", Double(i), Int64(i) * 1000))
                    }
                }
            }
            try head.checkpoint()
        }
        let wal = try WAL(directory: dir, options: .init(segmentSize: 4096, fsync: .always))
        let head = Head(wal: wal)
        let stats = try head.replayWAL()
        #expect(stats.exemplars == 50, "\(stats)")
        #expect(head.exemplars?.select(start: .min, end: .max) { _ in true }.first?.exemplars.count == 50)
    }
}
