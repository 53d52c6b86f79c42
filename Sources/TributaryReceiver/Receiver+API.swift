import Foundation
import Synchronization
import TributaryHTTPServer
import TributaryModel
import TributaryPromQL
import TributaryTSDB
import TributaryWire

extension Receiver {
    /// ``api(_:query:form:)`` on the query threads (``QueryExecutor``), never on a thread that
    /// serves remote write; 503 `timeout` when the query waited in the queue past the query
    /// timeout.
    /// With `gzip` (the client sent `Accept-Encoding: gzip`), answers over 1 KiB are compressed,
    /// on the query thread too.
    public func queryAPI(_ path: String, query: String?, form: String?, gzip: Bool = false) async -> HTTPAnswer {
        let timeout = engine.options.timeout
        return await queries.run(responding: { waited, respond in
            let answer = StreamedAnswer(gzip: gzip, timeout: timeout, respond: respond)
            var fragments: ((_ bytes: [UInt8], _ part: Precompressed) -> Bool)? = nil
            if answer.takesFragments { fragments = { answer.sendFragment($0, $1) } }
            answer.complete(self.api(path, query: query, form: form, queued: waited, chunks: { answer.send($0) }, fragments: fragments))
        }) {
            Self.errorAnswer(APIError(.timeout, "query timed out in query queue"))
        }
    }

    /// Serves one Prometheus HTTP API path (`query`, `series`, …) with parsed parameters.
    /// `queued`: seconds the query waited for a query thread (for `stats` and the slow-query log).
    /// `chunks`: takes the answer a chunk at a time while a query result is written (see
    /// ``StreamedAnswer``); the returned answer then holds only what came after the last chunk.
    /// `fragments`: takes parts compressed earlier, when the answer is streamed with gzip.
    public func api(
        _ path: String, query: String?, form: String?, queued: Double = 0, chunks: ((_ bytes: [UInt8]) -> Bool)? = nil,
        fragments: ((_ bytes: [UInt8], _ part: Precompressed) -> Bool)? = nil
    ) -> HTTPAnswer {
        if Self.statusPaths.contains(path) { return statusAnswer(path) }
        let params = Params(query: query, form: form)
        do {
            var out = JSONWriter(capacity: 1024)
            out.chunks = chunks
            out.fragments = fragments
            out.raw("{\"status\":\"success\",\"data\":")
            var warnings: [String] = []
            switch path {
            case "query": warnings = try instantQuery(params, queued: queued, &out)
            case "query_range": warnings = try rangeQuery(params, queued: queued, &out)
            case "series": warnings = try series(params, &out)
            case "labels": warnings = try labelNames(params, &out)
            case "metadata": try metadataJSON(params, &out)
            case "status/buildinfo": buildInfo(&out)
            case "status/tsdb": tsdbStatus(params, &out)
            case "query_exemplars": try exemplars(params, &out)
            case "format_query": try formatQuery(params, &out)
            // The receiver evaluates no rules and scrapes nothing: Prometheus's empty answers, so
            // that Grafana's alerting pages and `promtool` list nothing rather than fail on a 404.
            case "rules": out.raw("{\"groups\":[]}")
            case "alerts": out.raw("{\"alerts\":[]}")
            case "targets": out.raw("{\"activeTargets\":[],\"droppedTargets\":[]}")
            default:
                if path.hasPrefix("label/"), path.hasSuffix("/values") {
                    let name = String(path.dropFirst("label/".count).dropLast("/values".count))
                    warnings = try labelValues(name.removingPercentEncoding ?? name, params, &out)
                } else {
                    throw APIError(.notFound, "unknown API endpoint /api/v1/\(path)")
                }
            }
            if !warnings.isEmpty {
                out.raw(",\"warnings\":[")
                for (i, w) in warnings.enumerated() {
                    if i > 0 { out.raw(",") }
                    out.string(w)
                }
                out.raw("]")
            }
            out.raw("}")
            return HTTPAnswer(status: 200, headers: [("Content-Type", "application/json")], body: out.bytes)
        } catch let error as APIError {
            return Self.errorAnswer(error)
        } catch let error as ParseError {
            return Self.errorAnswer(APIError(.badData, "invalid parameter \"query\": \(error)"))
        } catch let error as EvaluationError {
            let kind: APIError.Kind
            switch error.kind {
            case .timeout: kind = .timeout
            case .canceled: kind = .canceled
            case .badData: kind = .badData
            default: kind = .execution
            }
            return Self.errorAnswer(APIError(kind, error.message))
        } catch {
            return Self.errorAnswer(APIError(.internal, "\(error)"))
        }
    }

    static func errorAnswer(_ e: APIError) -> HTTPAnswer {
        var out = JSONWriter()
        out.raw("{\"status\":\"error\",\"errorType\":")
        out.string(e.kind.rawValue)
        out.raw(",\"error\":")
        out.string(e.message)
        out.raw("}")
        return HTTPAnswer(status: e.status, headers: [("Content-Type", "application/json")], body: out.bytes)
    }

    var nowMs: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    func requireQuery(_ params: Params) throws(APIError) -> String {
        guard let q = params.first("query"), !q.isEmpty else { throw APIError(.badData, "invalid parameter \"query\": parse error: no expression found in input") }
        return q
    }

    func engineFor(_ params: Params) throws(APIError) -> Engine {
        var options = engine.options
        // Helper threads only for a query that runs alone: when several run, the cores are
        // already busy and helpers would only take time from ingest.
        if queries.running > 1 { options.workers = nil }
        if let timeout = try params.duration("timeout"), timeout > 0 { options.timeout = min(options.timeout, Double(timeout) / 1000) }
        return Engine(options: options)
    }

    func instantQuery(_ params: Params, queued: Double, _ out: inout JSONWriter) throws -> [String] {
        var stats = QueryStats(queue: queued)
        var clock = ContinuousClock.now
        let q = try requireQuery(params)
        let t = try params.time("time", default: nowMs)
        let expr = try Parser.parse(q)
        let engine = try engineFor(params)
        stats.prepare = clock.secondsElapsed
        clock = .now
        let (value, annotations) = try engine.instantQuery(expr, at: t, querier: db.querier())
        stats.eval = clock.secondsElapsed
        stats.add(annotations)
        write(value, stats: params.first("stats") != nil ? stats : nil, &out)
        noteSlow(q, range: "instant at \(Double(t) / 1000)", stats)
        noteHeapUse(stats)
        return annotations.warnings
    }

    func rangeQuery(_ params: Params, queued: Double, _ out: inout JSONWriter) throws -> [String] {
        var stats = QueryStats(queue: queued)
        var clock = ContinuousClock.now
        let q = try requireQuery(params)
        guard params.first("start") != nil else { throw APIError(.badData, "invalid parameter \"start\": cannot parse \"\" to a valid timestamp") }
        guard params.first("end") != nil else { throw APIError(.badData, "invalid parameter \"end\": cannot parse \"\" to a valid timestamp") }
        let start = try params.time("start", default: 0), end = try params.time("end", default: 0)
        guard end >= start else { throw APIError(.badData, "invalid parameter \"end\": end timestamp must not be before start time") }
        guard let step = try params.duration("step") else { throw APIError(.badData, "invalid parameter \"step\": cannot parse \"\" to a valid duration") }
        guard step > 0 else { throw APIError(.badData, "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer") }
        let expr = try Parser.parse(q)
        let engine = try engineFor(params)
        stats.prepare = clock.secondsElapsed
        clock = .now
        let (answer, annotations): (CachedAnswer, Annotations)
        if let cache = resultsCache, params.first("nocache") != "1", ResultsCache.isCacheable(expr),
            expr.type == .vector || expr.type == .scalar, (end - start) / step < 11_000
        {
            (answer, annotations) = try cachedRangeQuery(expr, start: start, end: end, step: step, engine: engine, cache: cache)
        } else {
            let (value, work) = try engine.rangeQuery(expr, start: start, end: end, step: step, querier: db.querier())
            (answer, annotations) = (.uncached(value), work)
        }
        stats.add(annotations)
        stats.eval = clock.secondsElapsed
        let shownStats = params.first("stats") != nil ? stats : nil
        switch answer {
        case .cached(let series, let hit):
            // Runs are compressed for the cache once the answer is asked again (a dashboard
            // refreshing), not for every query asked once.
            write(series, start: start, end: end, step: step, makeFragments: hit, workers: engine.options.workers, stats: shownStats, &out)
        case .uncached(let value):
            write(value, stats: shownStats, workers: engine.options.workers, &out)
        }
        noteSlow(q, range: "\(Double(start) / 1000) to \(Double(end) / 1000) step \(Double(step) / 1000)s", stats)
        noteHeapUse(stats)
        return annotations.warnings
    }

    /// `workers`: the query's helper threads, to format a large matrix's series on.
    func write(_ value: QueryValue, stats: QueryStats? = nil, workers: WorkerPool? = nil, _ out: inout JSONWriter) {
        out.raw("{\"resultType\":")
        out.string(value.resultType)
        out.raw(",\"result\":")
        switch value {
        case .scalar(let t, let v):
            out.point(t, v)
        case .string(let t, let s):
            out.raw("[")
            out.seconds(t)
            out.raw(",")
            out.string(s)
            out.raw("]")
        case .vector(let t, let samples):
            out.raw("[")
            for (i, s) in samples.enumerated() {
                if i > 0 { out.raw(",") }
                out.raw("{\"metric\":")
                out.labels(s.labels)
                out.raw(",\"value\":")
                out.point(t, s.value)
                out.raw("}")
                guard out.boundary() else { break }
            }
            out.raw("]")
        case .matrix(let series):
            out.raw("[")
            Self.writeSeries(series, on: .spreading(series.count, on: workers), &out)
            out.raw("]")
        }
        stats?.write(to: &out)
        out.raw("}")
    }

    /// A matrix answer from the results cache: each series' steps copied as they were written
    /// (or sent as compressed runs, see ``CachedSeries/write(first:start:end:step:makeFragments:_:)``).
    /// A gzip answer of many series is put together in parts (on `workers`' threads when the
    /// query has them).
    func write(
        _ series: [CachedSeries], start: Int64, end: Int64, step: Int64, makeFragments: Bool, workers: WorkerPool? = nil, stats: QueryStats?,
        _ out: inout JSONWriter
    ) {
        out.raw("{\"resultType\":\"matrix\",\"result\":[")
        if out.fragments != nil, series.count >= Self.seriesInParts {
            Self.writeInParts(series, start: start, end: end, step: step, makeFragments: makeFragments, on: workers, &out)
        } else {
            for (i, s) in series.enumerated() {
                guard s.write(first: i == 0, start: start, end: end, step: step, makeFragments: makeFragments, &out) else { break }
            }
        }
        out.raw("]")
        stats?.write(to: &out)
        out.raw("}")
    }

    /// One series of a matrix. False when the client went away.
    static func writeSeries(_ labels: Labels, _ samples: [Sample], first: Bool, _ out: inout JSONWriter) -> Bool {
        out.openSeries(labels, first: first)
        for (k, p) in samples.enumerated() {
            if k > 0 { out.bytes.append(UInt8(ascii: ",")) }
            out.point(p.timestamp, p.value)
        }
        return out.closeSeries()
    }

    /// The series of a matrix formatted on `workers`' threads and passed on in order:
    /// formatting numbers was most of writing a large answer (848k points: ~170 ms of one
    /// thread while the others idled), and compressing it the next most. Consecutive series
    /// are formatted together in parts of about ``partBytes``; for a gzip answer each part is
    /// compressed on its thread too and spliced into the stream (``DeflateFragment``).
    /// Without `workers` the parts are made in turn on the calling thread.
    static func writeSeries(_ series: [SeriesResult], on workers: WorkerPool?, _ out: inout JSONWriter) {
        guard !series.isEmpty else { return }
        let points = series.reduce(0) { $0 + $1.samples.count }
        let perPart = max(1, min(series.count, partBytes / max(1, 32 * points / series.count)))
        let compress = out.fragments != nil
        writeParts((series.count + perPart - 1) / perPart, on: workers, &out) { j in
            let from = j * perPart, to = min(series.count, from + perPart)
            var text = JSONWriter(capacity: 128 + (to - from) * 32 * (points / series.count + 4))
            for k in from..<to { _ = writeSeries(series[k].labels, series[k].samples, first: k == 0, &text) }
            if compress, text.bytes.count >= 4096, let fragment = DeflateFragment(text.bytes[...]) { return .compressed(.fragment(fragment)) }
            return .plain(text.bytes)
        }
    }

    /// A part of an answer made on a helper thread.
    enum Part {
        case compressed(Precompressed)
        case plain([UInt8])
    }

    /// Makes `parts` parts with `make` on `workers`' threads (or in turn without them), a few
    /// per thread at a time, and passes them on in order; stops when the client goes away.
    static func writeParts(_ parts: Int, on workers: WorkerPool?, _ out: inout JSONWriter, make: (_ part: Int) -> Part) {
        let batch = (workers?.workers ?? 1) * 4
        var made = [Part](repeating: .plain([]), count: min(batch, parts))
        var first = 0
        while first < parts {
            let n = min(batch, parts - first)
            made.withUnsafeMutableBufferPointer { made in
                runTasks(on: workers, tasks: n) { _, j in made[j] = make(first + j) }
            }
            for j in 0..<n {
                switch made[j] {
                case .compressed(let part):
                    guard out.fragment(part) else { return }
                case .plain(let bytes):
                    out.bytes.append(contentsOf: bytes)
                    guard out.boundary() else { return }
                }
                made[j] = .plain([])
            }
            first += n
        }
    }

    /// The JSON formatted (and compressed) as one part of a matrix written on several threads.
    static let partBytes = 64 * 1024

    /// The fewest series of a gzip answer from the cache written in parts.
    static let seriesInParts = 64

    /// Cached series of a gzip answer written in parts of about ``partBytes`` of JSON, each
    /// as one fragment (``FragmentBuilder``: the runs and openings kept compressed copied in,
    /// the steps at the window's edges stored, larger plain pieces compressed there), and
    /// spliced in order; the parts are made on `workers`' threads, or in turn
    /// without them (a query running beside others). A refresh of a large panel had compressed
    /// all of that on the query's thread, one block (and one set of Huffman tables) per
    /// series, while the helpers idled.
    static func writeInParts(
        _ series: [CachedSeries], start: Int64, end: Int64, step: Int64, makeFragments: Bool, on workers: WorkerPool?, _ out: inout JSONWriter
    ) {
        var bounds = [0]
        var bytes = 0
        for (k, s) in series.enumerated() {
            bytes += s.jsonCount + 128
            if bytes >= partBytes, k + 1 < series.count {
                bounds.append(k + 1)
                bytes = 0
            }
        }
        bounds.append(series.count)
        writeParts(bounds.count - 1, on: workers, &out) { j in
            let range = bounds[j]..<bounds[j + 1]
            let builder = FragmentBuilder(capacity: partBytes / 3)
            var text = JSONWriter(capacity: partBytes + 4096)
            text.cachedOpenings = true
            text.fragments = { plain, part in
                builder.append(plain[...])
                builder.append(part)
                return true
            }
            for k in range { _ = series[k].write(first: k == 0, start: start, end: end, step: step, makeFragments: makeFragments, &text) }
            builder.append(text.bytes[...])
            if let pieces = builder.finish() { return .compressed(.pieces(pieces)) }
            // Compression failed: the part as JSON, compressed with the stream.
            var plain = JSONWriter(capacity: partBytes + 4096)
            for k in range { _ = series[k].write(first: k == 0, start: start, end: end, step: step, makeFragments: false, &plain) }
            return .plain(plain.bytes)
        }
    }

    /// `match[]` selectors parsed into matcher lists.
    func matcherSets(_ params: Params) throws(APIError) -> [[Matcher]] {
        var sets: [[Matcher]] = []
        for text in params.all("match[]") {
            do {
                guard case .vectorSelector(let v) = try Parser.parse(text) else {
                    throw APIError(.badData, "invalid parameter \"match[]\": \(text) is not a series selector")
                }
                sets.append(v.matchers)
            } catch let e as APIError {
                throw e
            } catch {
                throw APIError(.badData, "invalid parameter \"match[]\": \(error)")
            }
        }
        return sets
    }

    func range(_ params: Params) throws(APIError) -> (Int64, Int64) {
        (try params.time("start", default: Int64.min / 4), try params.time("end", default: Int64.max / 4))
    }

    func limit(_ params: Params) throws(APIError) -> Int {
        guard let text = params.first("limit"), !text.isEmpty else { return 0 }
        guard let n = Int(text), n >= 0 else { throw APIError(.badData, "invalid parameter \"limit\": cannot parse \"\(text)\" to a valid limit") }
        return n
    }

    /// The warning Prometheus gives when `limit` cut a series, label names or label values
    /// answer short (Grafana's metrics browser shows "limit reached" on it).
    static let truncatedWarning = "results truncated due to limit"

    func series(_ params: Params, _ out: inout JSONWriter) throws -> [String] {
        let sets = try matcherSets(params)
        guard !sets.isEmpty else { throw APIError(.badData, "no match[] parameter provided") }
        let (start, end) = try range(params)
        let limit = try limit(params)
        var seen = Set<Labels>()
        var all: [Labels] = []
        for matchers in sets {
            for s in try db.querier().select(matchers, start: start, end: end) where seen.insert(s.labels).inserted { all.append(s.labels) }
        }
        all.sort()
        let truncated = limit > 0 && all.count > limit
        if truncated { all = Array(all.prefix(limit)) }
        out.raw("[")
        for (i, l) in all.enumerated() {
            if i > 0 { out.raw(",") }
            out.labels(l)
        }
        out.raw("]")
        return truncated ? [Self.truncatedWarning] : []
    }

    func labelNames(_ params: Params, _ out: inout JSONWriter) throws -> [String] {
        try unionOverMatchSets(params, &out) { q, m, start, end in try q.labelNames(matching: m, start: start, end: end, limit: 0) }
    }

    func labelValues(_ name: String, _ params: Params, _ out: inout JSONWriter) throws -> [String] {
        try unionOverMatchSets(params, &out) { q, m, start, end in try q.labelValues(name, matching: m, start: start, end: end, limit: 0) }
    }

    /// The sorted union of `lookup` over every `match[]` set (or no matchers), cut to `limit`;
    /// the warnings to answer with.
    func unionOverMatchSets(
        _ params: Params, _ out: inout JSONWriter,
        _ lookup: (any Querier, [Matcher], Int64, Int64) throws -> [String]
    ) throws -> [String] {
        let (start, end) = try range(params)
        let limit = try limit(params)
        let sets = try matcherSets(params)
        var all = Set<String>()
        for m in sets.isEmpty ? [[]] : sets { all.formUnion(try lookup(db.querier(), m, start, end)) }
        strings(all.sorted(), limit: limit, &out)
        return limit > 0 && all.count > limit ? [Self.truncatedWarning] : []
    }

    func strings(_ list: [String], limit: Int, _ out: inout JSONWriter) {
        out.raw("[")
        for (i, s) in (limit > 0 ? Array(list.prefix(limit)) : list).enumerated() {
            if i > 0 { out.raw(",") }
            out.string(s)
        }
        out.raw("]")
    }

    /// Prometheus's `metadata`: `metric` picks one family; `limit` caps the families (0 answers
    /// none, negative or absent: all, as Prometheus); `limit_per_metric` caps the entries of
    /// each, which is one here (the newest a sender sent), so it only has to be a number.
    func metadataJSON(_ params: Params, _ out: inout JSONWriter) throws {
        func number(_ name: String) throws(APIError) -> Int? {
            guard let text = params.first(name), !text.isEmpty else { return nil }
            guard let n = Int(text) else { throw APIError(.badData, "\(name) must be a number") }
            return n
        }
        let limit = try number("limit") ?? -1
        _ = try number("limit_per_metric")
        let all = metadata.all
        let metric = params.first("metric")
        out.raw("{")
        var first = true
        var written = 0
        for name in all.keys.sorted() where metric == nil || metric == name {
            if limit >= 0, written >= limit { break }
            written += 1
            guard let m = all[name] else { continue }
            if !first { out.raw(",") }
            first = false
            out.string(name)
            out.raw(":[{\"type\":")
            out.string(m.type.name)
            out.raw(",\"help\":")
            out.string(m.help)
            out.raw(",\"unit\":")
            out.string(m.unit)
            out.raw("}]")
        }
        out.raw("}")
    }

    func buildInfo(_ out: inout JSONWriter) {
        out.raw("{")
        for (i, (name, value)) in TributaryBuild.buildInfo.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { out.raw(",") }
            out.string(name)
            out.raw(":")
            out.string(value)
        }
        out.raw("}")
    }

    func tsdbStatus(_ params: Params, _ out: inout JSONWriter) {
        let limit = (try? self.limit(params)).flatMap { $0 > 0 ? $0 : nil } ?? 10
        let stats = db.querier().cardinality(limit: limit)
        func entries(_ list: [CardinalityStats.Entry]) {
            out.raw("[")
            for (i, e) in list.enumerated() {
                if i > 0 { out.raw(",") }
                out.raw("{\"name\":")
                out.string(e.name)
                out.raw(",\"value\":\(e.value)}")
            }
            out.raw("]")
        }
        out.raw("{\"headStats\":{\"numSeries\":\(stats.numSeries),\"numLabelPairs\":\(stats.numLabelPairs),\"chunkCount\":\(stats.chunkCount),")
        out.raw("\"minTime\":\(stats.minTime),\"maxTime\":\(stats.maxTime)},")
        // Beside Prometheus's head figures, the persisted blocks (Prometheus shows them only on
        // its web page).
        let blocks = db.blocks
        let samples = blocks.reduce(UInt64(0)) { $0 + $1.meta.stats.numSamples }
        let chunks = blocks.reduce(UInt64(0)) { $0 + $1.meta.stats.numChunks }
        let series = blocks.reduce(UInt64(0)) { $0 + $1.meta.stats.numSeries }
        out.raw("\"blockStats\":{\"numBlocks\":\(blocks.count),\"numSeries\":\(series),\"numSamples\":\(samples),\"numChunks\":\(chunks),")
        out.raw("\"minTime\":\(blocks.map(\.minTime).min() ?? 0),\"maxTime\":\(blocks.map(\.maxTime).max() ?? 0),")
        out.raw("\"bytes\":\(blocks.reduce(0) { $0 + $1.sizeBytes })},\"seriesCountByMetricName\":")
        entries(stats.seriesCountByMetricName)
        out.raw(",\"labelValueCountByLabelName\":")
        entries(stats.labelValueCountByLabelName)
        out.raw(",\"memoryInBytesByLabelName\":")
        entries(stats.memoryInBytesByLabelName)
        out.raw(",\"seriesCountByLabelValuePair\":")
        entries(stats.seriesCountByLabelValuePair)
        out.raw("}")
    }

    /// Exemplars are not stored yet: an empty answer for any valid request (Grafana probes it).
    /// `query_exemplars`: the exemplars in `start...end` of the series any selector of `query`
    /// matches, as Prometheus answers (`null` when the query has no selector).
    func exemplars(_ params: Params, _ out: inout JSONWriter) throws {
        let (start, end) = try range(params)
        guard end >= start else { throw APIError(.badData, "invalid parameter \"end\": end timestamp must not be before start timestamp") }
        let sets = try Parser.parse(params.first("query") ?? "").selectorMatchers
        guard !sets.isEmpty else {
            out.raw("null")
            return
        }
        let found =
            head.exemplars?.select(start: start, end: end) { labels in
                sets.contains { matchers in matchers.allSatisfy { m in Self.matches(m, labels) } }
            } ?? []
        out.raw("[")
        for (i, series) in found.enumerated() {
            if i > 0 { out.raw(",") }
            out.raw("{\"seriesLabels\":")
            out.labels(series.labels)
            out.raw(",\"exemplars\":[")
            for (k, e) in series.exemplars.enumerated() {
                if k > 0 { out.raw(",") }
                out.raw("{\"labels\":")
                out.labels(e.labels)
                out.raw(",\"value\":\"")
                FloatText.appendPlain(e.value, to: &out.bytes)
                out.raw("\",\"timestamp\":")
                out.seconds(e.timestamp)
                out.raw("}")
            }
            out.raw("]}")
        }
        out.raw("]")
    }

    /// Whether `labels` satisfy `m` (an absent label has the value "").
    static func matches(_ m: Matcher, _ labels: LabelsView) -> Bool {
        var name = m.name
        return name.withUTF8 { key in
            m.matches(labels.value(of: UnsafeRawBufferPointer(key)) ?? UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    func formatQuery(_ params: Params, _ out: inout JSONWriter) throws {
        let q = try requireQuery(params)
        out.string(try Parser.parse(q).formatted)
    }
}
