import Foundation
import Testing
import TributaryModel
import TributaryPromQL
import TributaryTSDB
import TributaryTestSupport
import TributaryWire

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The same generated data in Debian's prometheus (2.42, through remote write) and in our
/// head; the compliance tester's query list as range queries against both; results compared
/// with 1e-6 relative tolerance. Differences that are Prometheus 2.42 vs 3.x semantics are
/// listed in `knownVersionDifferences` and reported, not hidden.
@Suite(.serialized) struct DifferentialTests {
    static var queryFile: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../../shared/conformance/promql-compliance/promql-test-queries.yml").standardized.path
    }

    /// Queries whose answers differ between Prometheus 2.42 and 3.x by design.
    static let knownVersionDifferences: [(pattern: String, why: String)] = [
        (
            #"^label_(replace|join)\(demo_num_cpus, "~invalid""#,
            "3.x accepts any UTF-8 label name; 2.42 requires [a-zA-Z_][a-zA-Z0-9_]*"
        ),
        (
            #"\[(2m|5m):10s\]"#,
            "subquery steps: 2.x includes a step on the lower boundary (left-closed), 3.x does not (left-open)"
        ),
        (
            #"^(rate|increase)\(demo_cpu_usage_seconds_total\[1h\]\)$"#,
            "the counter starts inside the window: 2.x applies the zero-point limit before the 1.1x-average threshold, 3.x after (our reading of extrapolatedRate in both)"
        )
    ]

    /// The comparison itself can fail: NaN against a number, Inf against a number or the other
    /// infinity.
    @Test func valueComparisonCanFail() {
        #expect(!Self.sameValue(.nan, 1) && !Self.sameValue(1, .nan))
        #expect(!Self.sameValue(.infinity, 5) && !Self.sameValue(5, -.infinity) && !Self.sameValue(.infinity, -.infinity))
        #expect(Self.sameValue(.nan, .nan) && Self.sameValue(.infinity, .infinity))
        #expect(Self.sameValue(1, 1 + 1e-9) && !Self.sameValue(1, 1.001))
    }

    @Test func agreesWithPrometheus() throws {
        let prometheus = try PeerProcess("prometheus", readyPath: "/-/ready") { port, dir in
            try "global:\n  scrape_interval: 1m\n".write(toFile: dir + "/prometheus.yml", atomically: true, encoding: .utf8)
            return [
                "--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/data",
                "--web.listen-address=127.0.0.1:\(port)", "--web.enable-remote-write-receiver", "--log.level=warn"
            ]
        }
        defer { prometheus.stop(); prometheus.removeDirectory() }
        let baseURL = "http://127.0.0.1:\(prometheus.port)"

        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let start = (now - 70 * 60_000) / 60_000 * 60_000
        let data = DemoData.generate(start: start)
        // Into Prometheus, through remote write, 500 series-chunks per request.
        let encoder = WriteRequestEncoder()
        var batch: [TimeSeries] = []
        func flush() throws {
            guard !batch.isEmpty else { return }
            var request = URLRequest(url: URL(string: baseURL + "/api/v1/write")!)
            request.httpMethod = "POST"
            request.setValue("application/x-protobuf", forHTTPHeaderField: "Content-Type")
            request.setValue("snappy", forHTTPHeaderField: "Content-Encoding")
            request.setValue("0.1.0", forHTTPHeaderField: "X-Prometheus-Remote-Write-Version")
            request.httpBody = Data(encoder.encode(WriteRequest(timeseries: batch)))
            let (status, body) = try httpRequest(request)
            guard status / 100 == 2 else { throw TestFailure("remote write to prometheus: \(status) \(String(decoding: body, as: UTF8.self))") }
            batch.removeAll()
        }
        for (labels, samples) in data {
            var i = 0
            while i < samples.count {
                batch.append(TimeSeries(labels: labels, samples: Array(samples[i..<min(i + 120, samples.count)])))
                i += 120
                if batch.count >= 200 { try flush() }
            }
        }
        try flush()
        // Into our head.
        let head = Head()
        _ = try head.commit { b in
            for (labels, samples) in data { for s in samples { _ = b.append(labels, s) } }
        }

        let cases = try QueryList.load(Self.queryFile)
        let end = start + 48 * 60_000, queryStart = end - 10 * 60_000, step: Int64 = 10_000
        let engine = Engine()
        var agree = 0, bothFailed = 0, statsAgree = 0
        var differ: [String] = [], known: [String] = [], statsDiffer: [String] = [], statsKnown: [String] = []
        for c in cases {
            let theirs = try Self.queryPrometheus(baseURL, c.query, start: queryStart, end: end, step: step)
            let ours: Result<([SeriesResult], Annotations), any Error> = Result {
                let (value, annotations) = try engine.rangeQuery(c.query, start: queryStart, end: end, step: step, querier: head.querier())
                guard case .matrix(let m) = value else { throw TestFailure("range query did not return a matrix") }
                return (m, annotations)
            }
            let verdict: String?
            switch (ours, theirs) {
            case (.failure, .failure):
                // Counted once, as failing on both sides, not also as agreement.
                bothFailed += 1
                continue
            case (.failure(let e), .success): verdict = "we fail (\(e)), prometheus answers"
            case (.success, .failure(let e)): verdict = "we answer, prometheus fails (\(e))"
            case (.success((let m, let work)), .success(let p)):
                verdict = Self.compare(m, p.matrix)
                // stats=all: `totalQueryableSamples` counted as Prometheus counts it.
                if work.queryableSamples == p.queryableSamples {
                    statsAgree += 1
                } else {
                    let v = "\(c.query): totalQueryableSamples \(work.queryableSamples) vs \(p.queryableSamples)"
                    if let k = Self.knownVersionDifferences.first(where: { c.query.range(of: $0.pattern, options: .regularExpression) != nil }) {
                        statsKnown.append("\(v) [\(k.why)]")
                    } else {
                        statsDiffer.append(v)
                    }
                }
            }
            guard let verdict else { agree += 1; continue }
            if let k = Self.knownVersionDifferences.first(where: { c.query.range(of: $0.pattern, options: .regularExpression) != nil }) {
                known.append("\(c.query): \(verdict) [\(k.why)]")
            } else {
                differ.append("\(c.query): \(verdict)")
            }
        }
        print("PromQL differential vs prometheus 2.42: \(cases.count) queries, \(agree) agree, \(bothFailed) fail on both, \(known.count) known 2.x/3.x differences, \(differ.count) differ")
        for k in known { print("  known: \(k)") }
        for d in differ { print("  DIFFER: \(d)") }
        print(
            "stats=all vs prometheus 2.42: totalQueryableSamples agrees on \(statsAgree) of \(statsAgree + statsKnown.count + statsDiffer.count) queries both answer, \(statsKnown.count) known 2.x/3.x differences, \(statsDiffer.count) differ"
        )
        for k in statsKnown { print("  stats known: \(k)") }
        for d in statsDiffer { print("  STATS DIFFER: \(d)") }
        #expect(cases.count > 500)
        #expect(differ.isEmpty, "\(differ.count) queries differ from Prometheus")
        #expect(statsDiffer.isEmpty, "\(statsDiffer.count) queries count totalQueryableSamples differently")
    }

    typealias Matrix = [(labels: [String: String], points: [(Int64, Double)])]

    static func queryPrometheus(
        _ base: String, _ query: String, start: Int64, end: Int64, step: Int64
    ) throws -> Result<(matrix: Matrix, queryableSamples: Int), TestFailure> {
        var components = URLComponents(string: base + "/api/v1/query_range")!
        components.queryItems = [
            URLQueryItem(name: "query", value: query), URLQueryItem(name: "start", value: String(Double(start) / 1000)),
            URLQueryItem(name: "end", value: String(Double(end) / 1000)), URLQueryItem(name: "step", value: String(Double(step) / 1000)),
            URLQueryItem(name: "stats", value: "all")
        ]
        // '+' in a query string means a space to Go's parser; escape it.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        let (_, body) = try httpRequest(URLRequest(url: components.url!))
        guard let json = try JSONSerialization.jsonObject(with: body) as? [String: Any] else { throw TestFailure("bad JSON from prometheus") }
        guard json["status"] as? String == "success", let data = json["data"] as? [String: Any],
            let result = data["result"] as? [[String: Any]]
        else {
            return .failure(TestFailure("\(json["error"] ?? "error")"))
        }
        let stats = (data["stats"] as? [String: Any])?["samples"] as? [String: Any]
        guard let queryable = stats?["totalQueryableSamples"] as? Int else { return .failure(TestFailure("no stats in prometheus's answer")) }
        let matrix: Matrix =
            result.map { series in
                let labels = series["metric"] as? [String: String] ?? [:]
                let values = (series["values"] as? [[Any]] ?? []).map { pair -> (Int64, Double) in
                    let t = Int64((((pair.first as? Double) ?? 0) * 1000).rounded())
                    let s = pair.count > 1 ? (pair[1] as? String ?? "") : ""
                    let v = s == "+Inf" ? Double.infinity : s == "-Inf" ? -Double.infinity : (Double(s) ?? .nan)
                    return (t, v)
                }
                return (labels, values)
            }
        return .success((matrix, queryable))
    }

    /// Equal within 1e-6 relative; NaN equals only NaN, an infinity only the same infinity
    /// (the old comparison took NaN against a number, and Inf against anything, as agreement).
    static func sameValue(_ a: Double, _ b: Double) -> Bool {
        if a.isNaN || b.isNaN { return a.isNaN && b.isNaN }
        if a.isInfinite || b.isInfinite { return a == b }
        return a == b || abs(a - b) <= 1e-6 * max(abs(a), abs(b))
    }

    static func compare(_ ours: [SeriesResult], _ theirs: Matrix) -> String? {
        let mine = Dictionary(
            ours.map { s in (Dictionary(s.labels.pairs.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a }), s) },
            uniquingKeysWith: { a, _ in a })
        if mine.count != theirs.count { return "\(mine.count) series vs \(theirs.count)" }
        for series in theirs {
            guard let s = mine[series.labels] else { return "missing series \(series.labels)" }
            if s.samples.count != series.points.count { return "\(series.labels): \(s.samples.count) points vs \(series.points.count)" }
            for (a, b) in zip(s.samples, series.points) {
                if a.timestamp != b.0 { return "\(series.labels): timestamp \(a.timestamp) vs \(b.0)" }
                if !sameValue(a.value, b.1) {
                    return "\(series.labels) @\(a.timestamp): \(a.value) vs \(b.1)"
                }
            }
        }
        return nil
    }
}
