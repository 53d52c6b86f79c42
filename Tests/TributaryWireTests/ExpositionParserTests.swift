import Glibc
import Testing
import TributaryModel

@testable import TributaryWire

/// What the parsers return, not only whether they accept.
@Suite struct ExpositionParserTests {
    struct Parsed: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
        var timestamp: Int64?
    }

    static func samples(_ text: String, _ format: ExpositionFormat) throws -> [Parsed] {
        var parser = ExpositionParser(Array(text.utf8), format: format)
        var out: [Parsed] = []
        while let entry = try parser.next() {
            guard case .sample(let s) = entry else { continue }
            var labels: [String: String] = [:]
            for l in parser.labels { labels[parser.string(l.name)] = String(decoding: parser.labelValue(l), as: UTF8.self) }
            out.append(Parsed(name: parser.string(s.name), labels: labels, value: s.value, timestamp: s.timestamp))
        }
        return out
    }

    @Test func openMetricsExemplarsAreDecodedWhenKept() throws {
        let text = """
            # TYPE rpc_seconds histogram
            rpc_seconds_bucket{le="0.5"} 3 # {trace_id="abc",span_id="s\\"1\\""} 0.25 1700000000.5
            rpc_seconds_bucket{le="+Inf"} 4 # {trace_id="def"} 1.5
            rpc_seconds_count 4
            rpc_seconds_sum 2.5
            # EOF

            """
        func exemplars(keep: Bool) throws -> [ScrapedExemplar?] {
            var parser = ExpositionParser(Array(text.utf8), format: .openMetrics)
            parser.keepExemplars = keep
            var out: [ScrapedExemplar?] = []
            while let entry = try parser.next() {
                if case .sample(let s) = entry { out.append(s.exemplar) }
            }
            return out
        }
        let kept = try exemplars(keep: true)
        #expect(kept.count == 4)
        #expect(kept[0] == ScrapedExemplar(labels: Labels(sortedPairs: [("span_id", "s\"1\""), ("trace_id", "abc")]), value: 0.25, timestamp: 1_700_000_000_500))
        #expect(kept[1] == ScrapedExemplar(labels: ["trace_id": "def"], value: 1.5, timestamp: nil))
        #expect(kept[2] == nil && kept[3] == nil)
        #expect(try exemplars(keep: false).allSatisfy { $0 == nil }, "only checked unless kept")
    }

    /// The family rules over a page of many families (the table that finds them grows past
    /// 32): a family declared early is still found after hundreds of others, in each rule.
    @Test func textFamilyRulesOverManyFamilies() throws {
        var page = "# TYPE early_seconds histogram\n# TYPE early_q summary\n"
        for i in 0..<300 { page += "# HELP f\(i) Family \(i).\n# TYPE f\(i) gauge\nf\(i) \(i)\n" }
        #expect(try Self.samples(page, .prometheusText).count == 300)
        let lines = 2 + 300 * 3
        func failure(_ tail: String) -> ExpositionError? {
            do {
                _ = try Self.samples(page + tail, .prometheusText)
                return nil
            } catch let e as ExpositionError {
                return e
            } catch {
                return nil
            }
        }
        #expect(failure("# TYPE f7 counter\n") == ExpositionError(line: lines + 1, column: 11, message: "second TYPE line for metric \"f7\""))
        #expect(failure("# HELP f250 again\n") == ExpositionError(line: lines + 1, column: 13, message: "second HELP line for metric \"f250\""))
        #expect(failure("f9 1\n# TYPE f9 gauge\n")?.message == "second TYPE line for metric \"f9\"")
        #expect(failure("late 1\n# TYPE late gauge\n")?.message == "TYPE line for metric \"late\" after its samples")
        #expect(failure("early_seconds_bucket{le=\"x\"} 1\n")?.message == "expected a float as value for the le label, got \"x\"")
        #expect(failure("early_q{quantile=\"y\"} 1\n")?.message == "expected a float as value for the quantile label, got \"y\"")
        #expect(failure("early_seconds_bucket{le=\"0.5\"} 1\nearly_seconds_sum 2\nearly_q_count 3\nf4_bucket{le=\"z\"} 1\n") == nil)
    }

    /// OpenMetrics's per-series timestamp rules in a family of many series (its table grown
    /// past its first slots).
    @Test func openMetricsTimestampRulesOverManySeries() throws {
        var page = "# TYPE a counter\n"
        for i in 0..<100 { page += "a_total{i=\"\(i)\"} 1 \(100 + i)\n" }
        func failure(_ tail: String) -> String? {
            do {
                _ = try Self.samples(page + tail + "# EOF\n", .openMetrics)
                return nil
            } catch let e as ExpositionError {
                return e.message
            } catch {
                return "\(error)"
            }
        }
        #expect(failure("") == nil)
        #expect(failure("a_total{i=\"99\"} 2 200\n") == nil)
        #expect(failure("a_total{i=\"99\"} 2 198\n") == "timestamps of \"a_total\" go backwards")
        #expect(failure("a_total{i=\"99\"} 2\n") == "\"a_total\" has a timestamp on some samples and not on others")
        #expect(failure("a_total{i=\"3\"} 2 300\n") == "samples of \"a_total\" with these labels appear again: they must be contiguous")
    }

    @Test func textFormatValues() throws {
        let got = try Self.samples(
            """
            # HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
            # TYPE node_cpu_seconds_total counter
            node_cpu_seconds_total{cpu="0",mode="idle"} 1234.5
              name {a="x\\"y\\\\z\\n" , b = "", } -Inf 1700000000123
            up 1e3

            """, .prometheusText)
        #expect(
            got == [
                Parsed(name: "node_cpu_seconds_total", labels: ["cpu": "0", "mode": "idle"], value: 1234.5),
                Parsed(name: "name", labels: ["a": "x\"y\\z\n", "b": ""], value: -.infinity, timestamp: 1_700_000_000_123),
                Parsed(name: "up", labels: [:], value: 1000)
            ])
    }

    @Test func openMetricsValuesAndSecondsTimestamps() throws {
        let got = try Self.samples(
            """
            # TYPE a counter
            a_total{x="1"} 3 1.5 # {trace_id="abc"} 1 1.2
            # TYPE h histogram
            h_bucket{le="0.5"} 1
            h_bucket{le="+Inf"} 2
            h_count 2
            h_sum 0.7
            # EOF
            """, .openMetrics)
        #expect(got.count == 5)
        #expect(got[0] == Parsed(name: "a_total", labels: ["x": "1"], value: 3, timestamp: 1500))
        #expect(got[2].labels == ["le": "+Inf"] && got[4].value == 0.7)
    }

    @Test func errorsHaveLineAndColumn() {
        var parser = ExpositionParser(Array("ok 1\nbad{a=\"1\"} x\n".utf8), format: .prometheusText)
        #expect(throws: ExpositionError(line: 2, column: 12, message: "expected a float as value, got \"x\"")) {
            while try parser.next() != nil {}
        }
    }

    @Test func seriesRangeIsTheRawSeriesBytes() throws {
        let text = "m{a=\"1\"} 5\n"
        var parser = ExpositionParser(Array(text.utf8), format: .prometheusText)
        guard case .sample(let s) = try parser.next() else { Issue.record("no sample"); return }
        #expect(parser.string(s.series) == "m{a=\"1\"}")
    }
}

/// The fast decimal conversion gives strtod's value, bit for bit, wherever it applies.
@Suite struct DecimalConversionTests {
    static func strtodValue(_ text: String) -> Double {
        text.withCString { strtod($0, nil) }
    }

    /// `next(known:)`: the series bytes it is asked about are the sample's `series` range, quotes
    /// and escapes included; a known series comes back without labels, an unknown one with
    /// them; what follows the labels is still checked.
    @Test func knownSeriesSkipTheirLabels() throws {
        let text = "# TYPE a counter\na{x=\"}\\\"}\",y=\"2\"} 1\na {x=\"1\"} 2 1700\nb 3\na{x=\"9\"} 4\n"
        var parser = ExpositionParser(Array(text.utf8), format: .prometheusText)
        var asked: [String] = []
        var got: [(String, Int, Double)] = []
        while let entry = try parser.next(known: { key in
            asked.append(String(decoding: key, as: UTF8.self))
            return asked.last?.contains("9") != true
        }) {
            guard case .sample(let s) = entry else { continue }
            #expect(asked.isEmpty || parser.string(s.series) == asked.last, "asked about exactly the series bytes")
            got.append((parser.string(s.series), parser.labels.count, s.value))
            asked.removeAll()
        }
        #expect(got.map(\.0) == ["a{x=\"}\\\"}\",y=\"2\"}", "a {x=\"1\"}", "b", "a{x=\"9\"}"])
        #expect(got.map(\.1) == [0, 0, 0, 1], "known series skip their labels; the unknown one is parsed")
        #expect(got.map(\.2) == [1, 2, 3, 4])
        var bad = ExpositionParser(Array("a{x=\"1\"} one\n".utf8), format: .prometheusText)
        #expect(throws: ExpositionError.self) { _ = try bad.next(known: { _ in true }) }
        var open = ExpositionParser(Array("a{x=\"1\" 2\n".utf8), format: .prometheusText)
        #expect(throws: ExpositionError.self) { _ = try open.next(known: { _ in true }) }
    }

    @Test func fastPathMatchesStrtod() {
        var generator = SystemRandomNumberGenerator()
        var texts = [
            "0", "-0", "+0", "0.0", "1", "-1", "0.1", "0.3", "123.456", "9007199254740992", "9007199254740993",
            "0.0000000000000000000001", "1.0000000000000000000000", "4503599627370497.5", "00012.50", ".5", "5.", "-.25"
        ]
        for _ in 0..<20_000 {
            let intDigits = Int.random(in: 0...17, using: &generator), fracDigits = Int.random(in: 0...23, using: &generator)
            var t = Bool.random(using: &generator) ? "-" : ""
            t += String((0..<max(intDigits, 1)).map { _ in Character(String(Int.random(in: 0...9, using: &generator))) })
            if fracDigits > 0 { t += "." + String((0..<fracDigits).map { _ in Character(String(Int.random(in: 0...9, using: &generator))) }) }
            texts.append(t)
        }
        var fast = 0
        for t in texts {
            let bytes = Array(t.utf8)
            let ours = bytes.withUnsafeBytes { ExpositionNumbers.float($0, strictWords: false) }
            #expect(ours?.bitPattern == Self.strtodValue(t).bitPattern, "\(t)")
            if bytes.withUnsafeBytes({ ExpositionNumbers.convertSimple($0) }) != nil { fast += 1 }
        }
        #expect(fast > texts.count / 3, "the fast path should take most short decimals (\(fast) of \(texts.count))")
        // The fast path runs first, so it must refuse what is not a number.
        for bad in ["", ".", "-", "+", "-.", "+.", "1.2.3", "1..", "--1", "1-", "1 ", "0x10", "1_0", "١"] {
            #expect(Array(bad.utf8).withUnsafeBytes { ExpositionNumbers.float($0, strictWords: false) } == nil, "\(bad)")
            #expect(Array(bad.utf8).withUnsafeBytes { ExpositionNumbers.convertSimple($0) } == nil, "\(bad)")
        }
    }
}
