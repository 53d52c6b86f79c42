import Foundation
import Testing
import TributaryModel
import TributaryPromQL
import TributaryTSDB
import TributaryWAL
import TributaryWire

@testable import TributaryReceiver

/// Remote write to the letter: requests built by hand, field by field, each with the exact
/// status, `-Written` headers and what reads back. Nothing may be dropped behind a 2xx.
@Suite struct RemoteWriteSpecTests {
    /// A protobuf message written by hand (wire types 0, 1 and 2 only).
    struct Proto {
        var bytes: [UInt8] = []

        mutating func key(_ field: Int, _ wireType: Int) { uvarint(UInt64(field << 3 | wireType)) }
        mutating func uvarint(_ v: UInt64) {
            var v = v
            while v >= 0x80 {
                bytes.append(UInt8(v & 0x7F) | 0x80)
                v >>= 7
            }
            bytes.append(UInt8(v))
        }
        mutating func int(_ field: Int, _ v: Int64) {
            key(field, 0)
            uvarint(UInt64(bitPattern: v))
        }
        mutating func sint(_ field: Int, _ v: Int64) {
            key(field, 0)
            uvarint(UInt64(bitPattern: (v << 1) ^ (v >> 63)))
        }
        mutating func double(_ field: Int, _ v: Double) {
            key(field, 1)
            for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt64(k)))) }
        }
        mutating func raw(_ field: Int, _ b: [UInt8]) {
            key(field, 2)
            uvarint(UInt64(b.count))
            bytes += b
        }
        mutating func string(_ field: Int, _ s: String) { raw(field, Array(s.utf8)) }
        mutating func message(_ field: Int, _ build: (inout Proto) -> Void) {
            var m = Proto()
            build(&m)
            raw(field, m.bytes)
        }
        mutating func packed(_ field: Int, _ values: [UInt32]) {
            var m = Proto()
            for v in values { m.uvarint(UInt64(v)) }
            raw(field, m.bytes)
        }
        mutating func packedDoubles(_ field: Int, _ values: [Double]) {
            var m = Proto()
            for v in values { for k in 0..<8 { m.bytes.append(UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt64(k)))) } }
            raw(field, m.bytes)
        }
        mutating func packedSint(_ field: Int, _ values: [Int64]) {
            var m = Proto()
            for v in values { m.uvarint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }
            raw(field, m.bytes)
        }
    }

    typealias Build = @Sendable (inout Proto) -> Void

    /// A 2.0 request: `symbols`, then series built by `series`.
    static func v2(_ symbols: [String], _ series: [Build]) -> [UInt8] {
        var request = Proto()
        for s in symbols { request.string(4, s) }
        for build in series { request.message(5, build) }
        return Snappy.compress(request.bytes)
    }

    static func sample(_ p: inout Proto, _ v: Double, _ t: Int64) {
        p.message(2) { s in
            s.double(1, v); s.int(2, t)
        }
    }
    static func exemplar(_ p: inout Proto, refs: [UInt32], _ v: Double, _ t: Int64) {
        p.message(4) { e in
            e.packed(1, refs); e.double(2, v); e.int(3, t)
        }
    }
    /// An integer histogram: count, zero count, positive buckets as deltas over one span.
    static func histogram(_ p: inout Proto, count: UInt64, zero: UInt64, deltas: [Int64], spanLength: UInt32, t: Int64, schema: Int64 = 0) {
        p.message(3) { h in
            h.int(1, Int64(count))
            h.double(3, 10)
            h.sint(4, schema)
            h.double(5, 0.001)
            h.int(6, Int64(zero))
            h.message(11) { s in
                s.sint(1, 0); s.int(2, Int64(spanLength))
            }
            h.packedSint(12, deltas)
            h.int(15, t)
        }
    }
    /// A float histogram with absolute counts.
    static func floatHistogram(_ p: inout Proto, count: Double, counts: [Double], t: Int64) {
        p.message(3) { h in
            h.double(2, count)
            h.double(3, 1)
            h.sint(4, 1)
            h.message(11) { s in
                s.sint(1, 0); s.int(2, Int64(counts.count))
            }
            h.packedDoubles(13, counts)
            h.int(15, t)
        }
    }
    /// A native histogram with custom buckets (schema -53).
    static func customHistogram(_ p: inout Proto, bounds: [Double], deltas: [Int64], count: UInt64, t: Int64) {
        p.message(3) { h in
            h.int(1, Int64(count))
            h.sint(4, -53)
            h.message(11) { s in
                s.sint(1, 0); s.int(2, Int64(deltas.count))
            }
            h.packedSint(12, deltas)
            h.packedDoubles(16, bounds)
            h.int(15, t)
        }
    }

    static func receiver(_ configure: (inout ReceiverConfiguration) -> Void = { _ in }) throws -> (Receiver, String) {
        let dir = NSTemporaryDirectory() + "rwspec-\(UUID().uuidString)"
        var c = ReceiverConfiguration()
        c.dataDirectory = dir
        c.walFsync = .batch
        configure(&c)
        return (try Receiver(configuration: c), dir)
    }

    static let v2Type = RemoteWriteVersion.v2.contentType

    struct Answer {
        var status: Int
        var samples: String?
        var histograms: String?
        var exemplars: String?
        var body: String
    }

    static func post(_ r: Receiver, _ body: [UInt8], contentType: String = v2Type) -> Answer {
        let a = r.write(body: body, contentType: contentType, contentEncoding: "snappy")
        func header(_ name: String) -> String? { a.headers.first { $0.0 == name }?.1 }
        return Answer(
            status: a.status, samples: header("X-Prometheus-Remote-Write-Samples-Written"),
            histograms: header("X-Prometheus-Remote-Write-Histograms-Written"), exemplars: header("X-Prometheus-Remote-Write-Exemplars-Written"),
            body: String(decoding: a.body, as: UTF8.self))
    }

    static func stored(_ r: Receiver, _ selector: String) throws -> [Double] {
        guard case .vectorSelector(let v) = try Parser.parse(selector) else { throw ParseFailure() }
        let matchers = v.matchers
        return try r.head.querier().select(matchers, start: .min / 4, end: .max / 4).flatMap { series in
            var samples: [Sample] = []
            series.appendSamples(to: &samples)
            return samples.map(\.value)
        }
    }

    struct ParseFailure: Error {}

    static func exemplarsJSON(_ r: Receiver, _ query: String) throws -> [[String: Any]] {
        let a = r.api("query_exemplars", query: "query=" + (query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""), form: nil)
        let json = try JSONSerialization.jsonObject(with: Data(a.body)) as? [String: Any]
        return json?["data"] as? [[String: Any]] ?? []
    }

    // MARK: the table

    @Test func samplesExemplarsAndMetadata() throws {
        let (r, dir) = try Self.receiver()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // symbols: 0 "", 1 __name__, 2 http_requests_total, 3 job, 4 api, 5 trace_id, 6..8 ids, 9 help, 10 unit
        let body = Self.v2(
            ["", "__name__", "http_requests_total", "job", "api", "trace_id", "a1", "b2", "c3", "Requests.", "requests"],
            [
                { ts in
                    ts.packed(1, [1, 2, 3, 4])
                    Self.sample(&ts, 1, 1000)
                    Self.sample(&ts, 2, 2000)
                    Self.sample(&ts, 3, 3000)
                    Self.exemplar(&ts, refs: [5, 6], 0.5, 1000)
                    Self.exemplar(&ts, refs: [5, 7], 0.7, 2000)
                    Self.exemplar(&ts, refs: [5, 8], 0.9, 3000)
                    ts.message(5) { m in
                        m.int(1, 1); m.int(3, 9); m.int(4, 10)
                    }
                }
            ])
        let a = Self.post(r, body)
        #expect(a.status == 204, "\(a.body)")
        #expect(a.samples == "3" && a.histograms == "0" && a.exemplars == "3")
        #expect(try Self.stored(r, "http_requests_total") == [1, 2, 3])
        let found = try Self.exemplarsJSON(r, "http_requests_total{job=\"api\"}")
        #expect(found.count == 1)
        #expect(found.first?["seriesLabels"] as? [String: String] == ["__name__": "http_requests_total", "job": "api"])
        let exemplars = found.first?["exemplars"] as? [[String: Any]] ?? []
        #expect(exemplars.map { ($0["labels"] as? [String: String])?["trace_id"] ?? "" } == ["a1", "b2", "c3"])
        #expect(exemplars.map { $0["value"] as? String ?? "" } == ["0.5", "0.7", "0.9"])
        #expect(exemplars.map { ($0["timestamp"] as? NSNumber)?.doubleValue ?? 0 } == [1, 2, 3])
        // The series' metadata (2.0 carries it per series, as symbol refs).
        let metadata = String(decoding: r.api("metadata", query: nil, form: nil).body, as: UTF8.self)
        #expect(metadata.contains("\"http_requests_total\":[{\"type\":\"counter\",\"help\":\"Requests.\",\"unit\":\"requests\"}]"), "\(metadata)")
        // Sent again (a retry): nothing new, everything counted as written; the older
        // exemplars are recognised as held, not refused as out of order (Prometheus would).
        let again = Self.post(r, body)
        #expect(again.status == 204 && again.samples == "3" && again.exemplars == "3", "\(again.body)")
        #expect(try Self.exemplarsJSON(r, "http_requests_total").first.map { ($0["exemplars"] as? [Any])?.count } == 3)
    }

    @Test func outOfOrderExemplarIsRefusedWith400() throws {
        let (r, dir) = try Self.receiver()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let symbols = ["", "__name__", "m_total", "trace_id", "x", "y"]
        #expect(
            Self.post(
                r,
                Self.v2(
                    symbols,
                    [
                        { ts in
                            ts.packed(1, [1, 2]); Self.sample(&ts, 1, 5000); Self.exemplar(&ts, refs: [3, 4], 1, 5000)
                        }
                    ])
            ).status == 204)
        let a = Self.post(
            r,
            Self.v2(
                symbols,
                [
                    { ts in
                        ts.packed(1, [1, 2]); Self.sample(&ts, 2, 6000); Self.exemplar(&ts, refs: [3, 5], 1, 4000)
                    }
                ]))
        #expect(a.status == 400)
        #expect(a.samples == "1" && a.exemplars == "0")
        #expect(a.body.contains("exemplar {trace_id=\"y\"} at t=4000 is out of order"), "\(a.body)")
        #expect(try Self.stored(r, "m_total") == [1, 2], "the float sample of the request is stored")
        #expect(r.metricsText().body.contains(Array("tributary_remote_write_exemplars_rejected_total{reason=\"exemplar_out_of_order\"} 1".utf8)))
    }

    /// Remote write 1.0 (Prometheus 2.42 sends exemplars in series entries of their own): the
    /// same rules, the same 400, without `-Written` headers.
    @Test func exemplarsOfRemoteWrite1() throws {
        let (r, dir) = try Self.receiver()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let labels: Labels = ["__name__": "m_total", "job": "a"]
        func send(_ series: [TimeSeries]) -> Answer {
            Self.post(r, WriteRequestEncoder().encode(WriteRequest(timeseries: series)), contentType: "application/x-protobuf")
        }
        let first = send([
            TimeSeries(labels: labels, samples: [Sample(timestamp: 1000, value: 1)]),
            TimeSeries(labels: labels, samples: [], exemplars: [Exemplar(labels: ["trace_id": "x"], value: 1, timestamp: 1000)])
        ])
        #expect(first.status == 204 && first.exemplars == nil, "\(first.body)")
        let late = send([TimeSeries(labels: labels, samples: [Sample(timestamp: 2000, value: 2)], exemplars: [Exemplar(labels: ["trace_id": "y"], value: 1, timestamp: 500)])])
        #expect(late.status == 400, "\(late.body)")
        #expect(late.body.contains("exemplar {trace_id=\"y\"} at t=500 is out of order"), "\(late.body)")
        #expect(try Self.stored(r, "m_total") == [1, 2])
        let held = try Self.exemplarsJSON(r, "m_total").first?["exemplars"] as? [[String: Any]] ?? []
        #expect(held.map { ($0["labels"] as? [String: String])?["trace_id"] ?? "" } == ["x"])
    }

    /// Native histograms of every kind: the floats of the request are stored, the answer is a
    /// 400 that names the series, `Histograms-Written: 0`.
    static let histogramCases: [(String, Build, String)] = [
        ("integer", { ts in Self.histogram(&ts, count: 6, zero: 1, deltas: [2, -1, 1], spanLength: 3, t: 1000) }, "native histograms are not stored yet"),
        ("float", { ts in Self.floatHistogram(&ts, count: 4, counts: [1.5, 2.5], t: 1000) }, "native histograms are not stored yet"),
        ("custom buckets", { ts in Self.customHistogram(&ts, bounds: [0.1, 1, 10], deltas: [1, 1, 0], count: 5, t: 1000) }, "native histograms are not stored yet"),
        ("count disagrees with buckets", { ts in Self.histogram(&ts, count: 9, zero: 1, deltas: [2, -1, 1], spanLength: 3, t: 1000) }, "is malformed: 6 observations found in buckets, but the count field is 9"),
        ("spans do not match buckets", { ts in Self.histogram(&ts, count: 6, zero: 1, deltas: [2, -1, 1], spanLength: 5, t: 1000) }, "is malformed: positive side: spans need 5 buckets, have 3 buckets"),
        ("negative bucket", { ts in Self.histogram(&ts, count: 0, zero: 1, deltas: [2, -3], spanLength: 2, t: 1000) }, "is malformed: positive side: bucket number 2 has observation count of -1"),
        ("bad schema", { ts in Self.histogram(&ts, count: 6, zero: 1, deltas: [2, -1, 1], spanLength: 3, t: 1000, schema: 9) }, "is malformed: schema 9 is not valid"),
        ("custom bounds not increasing", { ts in Self.customHistogram(&ts, bounds: [1, 0.5], deltas: [1], count: 1, t: 1000) }, "is malformed: custom buckets: custom_values must increase strictly")
    ]

    @Test(arguments: histogramCases)
    func nativeHistogramsAreRefusedNotDropped(_ c: (String, Build, String)) throws {
        let (r, dir) = try Self.receiver()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let body = Self.v2(
            ["", "__name__", "up", "rpc_seconds"],
            [
                { ts in
                    ts.packed(1, [1, 2]); Self.sample(&ts, 1, 1000)
                },
                { ts in
                    ts.packed(1, [1, 3]); c.1(&ts)
                }
            ])
        let a = Self.post(r, body)
        #expect(a.status == 400, "\(c.0)")
        #expect(a.samples == "1" && a.histograms == "0" && a.exemplars == "0", "\(c.0)")
        #expect(a.body.contains("series 1 {__name__=\"rpc_seconds\"}"), "\(c.0): \(a.body)")
        #expect(a.body.contains(c.2), "\(c.0): \(a.body)")
        #expect(try Self.stored(r, "up") == [1], "\(c.0)")
        let reason = c.2.contains("malformed") ? "malformed_histogram" : "native_histogram"
        #expect(r.metricsText().body.contains(Array("tributary_remote_write_histograms_rejected_total{reason=\"\(reason)\"} 1".utf8)), "\(c.0)")
    }

    @Test func histogramsOfRemoteWrite1AreRefusedToo() throws {
        let (r, dir) = try Self.receiver()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // prometheus.WriteRequest: timeseries = 1 { labels = 1 {name, value}, samples = 2, histograms = 4 }
        var request = Proto()
        request.message(1) { ts in
            ts.message(1) { l in
                l.string(1, "__name__"); l.string(2, "rpc_seconds")
            }
            ts.message(2) { s in
                s.double(1, 7); s.int(2, 1000)
            }
            ts.message(4) { h in
                h.int(1, 2); h.sint(4, 0); h.message(11) { s in s.int(2, 1) }; h.packedSint(12, [2]); h.int(15, 1000)
            }
        }
        let a = Self.post(r, Snappy.compress(request.bytes), contentType: "application/x-protobuf")
        #expect(a.status == 400 && a.samples == nil, "no -Written headers for 1.0")
        #expect(a.body.contains("native histograms are not stored yet"), "\(a.body)")
        #expect(try Self.stored(r, "rpc_seconds") == [7])
    }

    @Test func seriesWithoutMetricNameIsRefused() throws {
        let (r, dir) = try Self.receiver()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let body = Self.v2(
            ["", "__name__", "up", "job", "x"],
            [
                { ts in
                    ts.packed(1, [3, 4]); Self.sample(&ts, 1, 1000)
                },
                { ts in
                    ts.packed(1, [1, 2, 3, 4]); Self.sample(&ts, 2, 1000)
                }
            ])
        let a = Self.post(r, body)
        #expect(a.status == 400 && a.samples == "1")
        #expect(a.body.contains("timeseries 0 {job=\"x\"}: no __name__ label"), "\(a.body)")
        #expect(try Self.stored(r, "{job=\"x\"}") == [2])
    }

    @Test func utf8NamesAreAcceptedAndQueryable() throws {
        let (r, dir) = try Self.receiver()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let body = Self.v2(
            ["", "__name__", "http.server.duration", "service.name", "checkout"],
            [
                { ts in
                    ts.packed(1, [1, 2, 3, 4]); Self.sample(&ts, 0.25, 1000)
                }
            ])
        let a = Self.post(r, body)
        #expect(a.status == 204 && a.samples == "1", "\(a.body)")
        let q = r.api("query", query: "query=" + "sum by (\"service.name\") ({\"http.server.duration\"})".addingPercentEncoding(withAllowedCharacters: .alphanumerics)! + "&time=1", form: nil)
        let text = String(decoding: q.body, as: UTF8.self)
        #expect(text.contains("\"metric\":{\"service.name\":\"checkout\"},\"value\":[1,\"0.25\"]"), "\(text)")
        let series = r.api("series", query: "match%5B%5D=" + "{\"http.server.duration\"}".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!, form: nil)
        #expect(String(decoding: series.body, as: UTF8.self).contains("\"__name__\":\"http.server.duration\",\"service.name\":\"checkout\""))
    }

    @Test func overlongExemplarLabelsAreRefusedWith400() throws {
        let (r, dir) = try Self.receiver()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let long = String(repeating: "t", count: 130)
        let body = Self.v2(
            ["", "__name__", "m_total", "trace_id", long, "ok"],
            [
                { ts in
                    ts.packed(1, [1, 2]); Self.sample(&ts, 1, 1000); Self.exemplar(&ts, refs: [3, 4], 1, 1000); Self.exemplar(&ts, refs: [3, 5], 1, 1000)
                }
            ])
        let a = Self.post(r, body)
        #expect(a.status == 400 && a.samples == "1" && a.exemplars == "1", "\(a.body)")
        #expect(a.body.contains("exemplar labels longer than 128 code points"), "\(a.body)")
    }

    @Test func exemplarsOffRefusesExemplars() throws {
        let (r, dir) = try Self.receiver { $0.head.maxExemplars = 0 }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = Self.post(
            r,
            Self.v2(
                ["", "__name__", "m_total", "trace_id", "x"],
                [
                    { ts in
                        ts.packed(1, [1, 2]); Self.sample(&ts, 1, 1000); Self.exemplar(&ts, refs: [3, 4], 1, 1000)
                    }
                ]))
        #expect(a.status == 400 && a.samples == "1" && a.exemplars == "0")
        #expect(a.body.contains("exemplar storage is off"), "\(a.body)")
    }

    /// HA replicas send the same exemplar at their own scrape times: one per dedup window is kept,
    /// the other counted as written, never refused as out of order.
    @Test func replicaExemplarsAreDeduplicated() throws {
        let (r, dir) = try Self.receiver {
            $0.dedupWindow = 15_000; $0.replicaLabels = ["replica"]
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let symbols = ["", "__name__", "m_total", "replica", "a", "b", "trace_id", "x", "y"]
        func send(_ replica: UInt32, _ t: Int64, _ trace: UInt32) -> Answer {
            Self.post(
                r,
                Self.v2(
                    symbols,
                    [
                        { ts in
                            ts.packed(1, [1, 2, 3, replica]); Self.sample(&ts, 1, t); Self.exemplar(&ts, refs: [6, trace], 1, t)
                        }
                    ]))
        }
        #expect(send(4, 15_100, 7).status == 204)
        let b = send(5, 15_900, 7)
        #expect(b.status == 204 && b.exemplars == "1", "\(b.body)")
        // Replica b late with an older window: deduplicated, not out of order.
        #expect(send(4, 30_100, 8).status == 204)
        let late = send(5, 15_950, 7)
        #expect(late.status == 204 && late.exemplars == "1", "\(late.body)")
        let held = try Self.exemplarsJSON(r, "m_total").first?["exemplars"] as? [[String: Any]] ?? []
        #expect(held.map { ($0["timestamp"] as? NSNumber)?.doubleValue ?? 0 } == [15.1, 30.1])
    }

    @Test func exemplarsSurviveRestartThroughTheWAL() throws {
        let dir = NSTemporaryDirectory() + "rwspec-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = ReceiverConfiguration()
        c.dataDirectory = dir
        c.walFsync = .always
        do {
            let r = try Receiver(configuration: c)
            let body = Self.v2(
                ["", "__name__", "m_total", "trace_id", "x", "y"],
                [
                    { ts in
                        ts.packed(1, [1, 2]); Self.sample(&ts, 1, 1000); Self.exemplar(&ts, refs: [3, 4], 1, 1000); Self.sample(&ts, 2, 2000); Self.exemplar(&ts, refs: [3, 5], 2, 2000)
                    }
                ])
            #expect(Self.post(r, body).status == 204)
        }
        let reopened = try Receiver(configuration: c)
        let held = try Self.exemplarsJSON(reopened, "m_total").first?["exemplars"] as? [[String: Any]] ?? []
        #expect(held.map { ($0["labels"] as? [String: String])?["trace_id"] ?? "" } == ["x", "y"])
        // And the order check still holds after the restart.
        let older = Self.post(
            reopened,
            Self.v2(
                ["", "__name__", "m_total", "trace_id", "z"],
                [
                    { ts in
                        ts.packed(1, [1, 2]); Self.exemplar(&ts, refs: [3, 4], 3, 1500)
                    }
                ]))
        #expect(older.status == 400 && older.exemplars == "0", "\(older.body)")
    }
}
