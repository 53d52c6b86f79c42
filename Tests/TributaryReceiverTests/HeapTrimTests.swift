import Foundation
import Synchronization
import Testing
import TributaryModel
import TributaryTSDB

@testable import TributaryReceiver

/// A query that held many points asks for the heap to be trimmed, one that held few does not,
/// and ``HeapTrimService`` trims once per request.
@Suite struct HeapTrimTests {
    @Test func aLargeQueryAsksForATrimAndASmallOneDoesNot() throws {
        let dir = NSTemporaryDirectory() + "tributary-heap-trim-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = ReceiverConfiguration()
        c.dataDirectory = dir
        let r = try Receiver(configuration: c)
        _ = try r.head.commit { b in
            for i in 0..<1000 {
                for k in 0...67 { _ = b.append(["__name__": "m", "i": "\(i)"], Sample(timestamp: Int64(k) * 15_000, value: Double(k))) }
            }
        }
        func peak(_ query: String) throws -> Int {
            let answer = r.api("query_range", query: query + "&stats=all&nocache=1", form: nil)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])
            let data = try #require(json["data"] as? [String: Any], "\(String(decoding: answer.body.prefix(300), as: UTF8.self))")
            let stats = try #require(data["stats"] as? [String: Any])
            return try #require((stats["samples"] as? [String: Any])?["peakSamples"] as? Int)
        }
        #expect(try peak("query=sum(m)&start=0&end=1000&step=1") < HeapTrim.afterPeakSamples)
        var wanted = r.heapTrimWanted.load(ordering: .relaxed)
        #expect(!wanted, "a query folded series by series holds few points")
        // Both sides of the division held whole: 1,000 series x 1,001 steps each.
        #expect(try peak("query=count(m%20%2F%20m)&start=0&end=1000&step=1") >= HeapTrim.afterPeakSamples)
        wanted = r.heapTrimWanted.load(ordering: .relaxed)
        #expect(wanted)
    }

    @Test func theServiceTrimsOncePerRequest() async throws {
        let dir = NSTemporaryDirectory() + "tributary-heap-trim-service-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = ReceiverConfiguration()
        c.dataDirectory = dir
        let r = try Receiver(configuration: c)
        let trims = Atomic<Int>(0)
        let service = HeapTrimService(receiver: r, interval: .milliseconds(10)) { trims.add(1, ordering: .relaxed) }
        let running = Task { try await service.run() }
        defer { running.cancel() }
        func settle(until done: () -> Bool) async throws {
            for _ in 0..<500 where !done() { try await Task.sleep(for: .milliseconds(10)) }
        }
        r.heapTrimWanted.store(true, ordering: .relaxed)
        try await settle { trims.load(ordering: .relaxed) >= 1 }
        #expect(trims.load(ordering: .relaxed) == 1)
        let wanted = r.heapTrimWanted.load(ordering: .relaxed)
        #expect(!wanted, "the request is taken")
        // No request, no trim: a few intervals pass.
        try await Task.sleep(for: .milliseconds(100))
        #expect(trims.load(ordering: .relaxed) == 1)
        r.heapTrimWanted.store(true, ordering: .relaxed)
        try await settle { trims.load(ordering: .relaxed) >= 2 }
        #expect(trims.load(ordering: .relaxed) == 2)
    }
}
