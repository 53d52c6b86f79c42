import Foundation
import Synchronization
import Testing
import TributaryModel
import TributaryTSDB
import TributaryWire

@testable import TributaryReceiver

/// Queries run on threads of their own: a query blocking its thread holds no thread that
/// serves remote write, at most `max_concurrency` run at once, and one that waited past the
/// timeout in the queue is answered 503 `timeout` without running.
@Suite struct QueryIsolationTests {
    final class Counts: Sendable {
        let state = Mutex((running: 0, most: 0, ran: 0, threads: Set<String>()))
    }

    @Test func queriesRunApartBoundedAndTimeOutInTheQueue() async throws {
        let executor = QueryExecutor(maxConcurrency: 2, queueTimeout: .milliseconds(300))
        let counts = Counts()
        await withTaskGroup(of: HTTPAnswer.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    await executor.run({ _ in
                        counts.state.withLock { c in
                            c.running += 1
                            c.most = max(c.most, c.running)
                            c.threads.insert(currentThreadName())
                        }
                        Thread.sleep(forTimeInterval: 0.5)  // a query holding its thread
                        counts.state.withLock { c in
                            c.running -= 1
                            c.ran += 1
                        }
                        return HTTPAnswer(status: 200)
                    }) { HTTPAnswer(status: 503) }
                }
            }
            // Meanwhile the cooperative pool (where remote write is served) keeps working.
            group.addTask {
                try? await Task.sleep(for: .milliseconds(100))
                return HTTPAnswer(status: 204)
            }
            var statuses: [Int] = []
            for await answer in group { statuses.append(answer.status) }
            #expect(statuses.sorted() == [200, 200, 204, 503, 503], "two ran, two waited past 300 ms, the pool answered at once: \(statuses)")
        }
        // Queries ran on the executor's own threads, never on the cooperative pool (a timing
        // check of the pool's answer failed when parallel tests kept the pool busy).
        #expect(counts.state.withLock { $0.threads } == ["tributary-query"])
        #expect(counts.state.withLock { $0.most } == 2, "at most max_concurrency at once")
        #expect(counts.state.withLock { $0.ran } == 2)
    }

    @Test func answersAreGzippedWhenTheClientTakesIt() async throws {
        let dir = NSTemporaryDirectory() + "tributary-gzip-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = ReceiverConfiguration()
        c.dataDirectory = dir
        let r = try Receiver(configuration: c)
        _ = try r.head.commit { b in
            for i in 0..<200 { _ = b.append(Labels(sortedPairs: [("__name__", "up"), ("instance", "host-\(i)")]), Sample(timestamp: 1000, value: 1)) }
        }
        let plain = await r.queryAPI("series", query: "match%5B%5D=up", form: nil)
        let zipped = await r.queryAPI("series", query: "match%5B%5D=up", form: nil, gzip: true)
        #expect(plain.headers.allSatisfy { $0.0 != "Content-Encoding" })
        #expect(zipped.headers.contains { $0 == ("Content-Encoding", "gzip") })
        #expect(zipped.body.count * 4 < plain.body.count, "\(zipped.body.count) of \(plain.body.count) bytes")
        #expect(try Gunzip.inflate(zipped.body, limit: 1 << 20) == plain.body)
        let small = await r.queryAPI("query", query: "query=1&time=1", form: nil, gzip: true)
        #expect(small.headers.allSatisfy { $0.0 != "Content-Encoding" }, "small answers go as they are")
        #expect(ReceiverServer.acceptsGzip("gzip, deflate, br") && ReceiverServer.acceptsGzip("*") && ReceiverServer.acceptsGzip("br;q=1.0, GZIP;q=0.5"))
        #expect(!ReceiverServer.acceptsGzip(nil) && !ReceiverServer.acceptsGzip("identity") && !ReceiverServer.acceptsGzip("gzip;q=0"))
    }

    @Test func experimentalPromQLIsRefusedNotIgnored() throws {
        let dir = NSTemporaryDirectory() + "tributary-unsupported-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = ReceiverConfiguration()
        c.dataDirectory = dir
        let r = try Receiver(configuration: c)
        for (query, feature) in [
            ("a + fill(0) b", "fill()"), ("rate(a[5m] anchored)", "anchored"), ("rate(a[5m] smoothed)", "smoothed"),
            ("info(up)", "info()"), ("sum(a + fill_left(1) b)", "fill()")
        ] {
            let answer = r.api("query", query: "query=" + (query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") + "&time=1", form: nil)
            let text = String(decoding: answer.body, as: UTF8.self)
            #expect(answer.status == 400 && text.contains("\"errorType\":\"bad_data\""), "\(query): \(text)")
            #expect(text.contains(feature) && text.contains("not supported"), "\(query): \(text)")
        }
    }
}

/// The calling thread's name as the kernel has it (what `nameCurrentThread` writes; what
/// `top -H` shows), not Foundation's idea of it.
private func currentThreadName() -> String {
    let fd = open("/proc/thread-self/comm", O_RDONLY)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 32)
    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard n > 0 else { return "" }
    return String(decoding: buffer[0..<n].prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
}
