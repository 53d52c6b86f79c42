import Testing
import TributaryModel
import TributaryPromQL
import TributaryTSDB

/// `stats=all`'s `totalQueryableSamples`, counted as Prometheus's engine counts it: at each
/// step one per series an instant selector picks a sample for, and the samples in each window a
/// range function reads (a subquery's window holds its points; what its own selectors picked is
/// not counted again). The differential test checks the same against Prometheus 2.42 over the
/// compliance queries; its subquery queries all sit on a 2.x/3.x boundary difference, so the
/// subquery rules are pinned here. Every figure below is what Prometheus 2.42 answered for the
/// same data (built with `promtool tsdb create-blocks-from openmetrics`) with the query times
/// moved 3 ms, off the subquery boundary where 2.x takes one point more.
@Suite struct QueryableSamplesTests {
    /// Three series, a sample every 5 s (7 ms after the second, off every window's edge) from 0
    /// to 995 s.
    static func head() throws -> Head {
        let head = Head()
        _ = try head.commit { b in
            for i in 0..<3 {
                for k in 0..<200 { _ = b.append(["__name__": "m", "i": "\(i)"], Sample(timestamp: Int64(k) * 5_000 + 7, value: Double(k))) }
            }
        }
        return head
    }

    // 600 s to 900 s at 10 s: 31 steps, 3 series.
    static let steps = 31

    @Test(arguments: [
        ("m", steps * 3),  // one sample per series and step
        ("rate(m[1m])", steps * 3 * 12),  // 12 samples in each (t - 60 s, t]
        ("sum(m) + count(rate(m[1m]))", steps * 3 + steps * 3 * 12),
        ("max_over_time(m[2m:10s])", steps * 3 * 12),  // 12 subquery points in each window
        ("avg_over_time(rate(m[1m])[2m:10s])", steps * 3 * 12),  // the inner rate's 12-sample windows not counted
        ("timestamp(m)", steps * 3),
        ("clamp(m, 2, 1)", steps * 3),  // empty whatever the input, which is still read
        ("m @ 700", steps * 3),
        ("vector(1)", 0)
    ])
    func rangeQueries(query: String, expected: Int) throws {
        let (_, annotations) = try Engine().rangeQuery(query, start: 600_000, end: 900_000, step: 10_000, querier: Self.head().querier())
        #expect(annotations.queryableSamples == expected, "\(query)")
    }

    @Test(arguments: [
        ("m", 3),
        ("m[1m]", 3 * 12),  // a range vector: its samples
        ("m[2m:10s]", 3 * 12),  // a bare subquery: what its selector picked at its 12 steps
        ("rate(m[1m])", 3 * 12)
    ])
    func instantQueries(query: String, expected: Int) throws {
        let (_, annotations) = try Engine().instantQuery(query, at: 900_000, querier: Self.head().querier())
        #expect(annotations.queryableSamples == expected, "\(query)")
    }
}
