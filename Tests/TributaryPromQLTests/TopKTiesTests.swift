import Testing
import TributaryModel
import TributaryPromQL
import TributaryTSDB

/// topk and bottomk keep, among equal values, the series Prometheus 3 keeps: its heap's moves
/// decide (with k = 3 over 1, 1, 1, 2, 2, 1 it keeps the third, fourth and fifth, not the
/// first), and an instant answer lists them as its sort of that heap does. The expected answers
/// are worked by hand from 3.x's `aggregationK` and Go's `container/heap`; Prometheus 2.42 (a
/// pop and a push where 3.x overwrites the root) answers `topk(3, x)` with d, e, b.
@Suite struct TopKTiesTests {
    /// `x{s="a"…"f"}` = 1, 1, 1, 2, 2, 1 and `y` the mirror image (2, 2, 2, 1, 1, 2), every 15 s
    /// for five minutes.
    static func head() throws -> Head {
        let head = Head()
        _ = try head.commit { b in
            for (i, s) in ["a", "b", "c", "d", "e", "f"].enumerated() {
                let v: Double = i == 3 || i == 4 ? 2 : 1
                for t in stride(from: Int64(0), through: 300_000, by: 15_000) {
                    _ = b.append(["__name__": "x", "s": s], Sample(timestamp: t, value: v))
                    _ = b.append(["__name__": "y", "s": s], Sample(timestamp: t, value: 3 - v))
                }
            }
        }
        return head
    }

    static func names(_ labels: [Labels]) -> [String] { labels.map { $0.value(of: "s") ?? "?" } }

    @Test func instantAnswerKeepsPrometheusTies() throws {
        let head = try Self.head()
        for (query, expected) in [
            ("topk(3, x)", ["d", "e", "c"]), ("bottomk(3, y)", ["d", "e", "c"]), ("topk(3, x * 1)", ["d", "e", "c"]),
            ("topk(1, x)", ["d"]), ("topk(2, x)", ["e", "d"]), ("bottomk(3, x)", ["a", "b", "c"])
        ] {
            guard case .vector(_, let v) = try Engine().instantQuery(query, at: 60_000, querier: head.querier()).0 else {
                Issue.record("\(query): not a vector")
                continue
            }
            #expect(Self.names(v.map(\.labels)) == expected, "\(query)")
        }
    }

    /// Range queries: at the root (series at a time) and inside an expression (step by step).
    @Test func rangeAnswerKeepsPrometheusTies() throws {
        let head = try Self.head()
        for query in ["topk(3, x)", "bottomk(3, y)", "topk(3, x) * 1", "bottomk(3, y) + 0"] {
            guard case .matrix(let m) = try Engine().rangeQuery(query, start: 0, end: 300_000, step: 15_000, querier: head.querier()).0 else {
                Issue.record("\(query): not a matrix")
                continue
            }
            #expect(Set(Self.names(m.map(\.labels))) == ["c", "d", "e"], "\(query)")
            #expect(m.allSatisfy { $0.samples.count == 21 }, "\(query)")
        }
    }
}
