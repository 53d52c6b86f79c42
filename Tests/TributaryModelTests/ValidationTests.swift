import Testing
import TributaryModel

@Suite struct ValidationTests {
    @Test func validLabelsPass() {
        let l: Labels = ["__name__": "node_cpu_seconds_total", "cpu": "0", "mode": "idle", "job": "node", "group": "lab-1", "instance": "ü:9100"]
        #expect(l.validate() == nil)
        #expect(Labels(sortedPairs: [("__name__", "a:b_c")]).validate() == nil)
        #expect(Labels(sortedPairs: [("__name__", "up"), ("_x", "1")]).validate() == nil)
    }

    static let cases: [(String, [(String, String)], LabelViolation.Rule, String)] = [
        ("empty set", [], .emptyLabelSet, ""),
        ("no metric name", [("job", "a")], .missingMetricName, ""),
        ("unsorted", [("__name__", "up"), ("job", "a"), ("instance", "b")], .notSorted, "instance"),
        ("duplicate", [("__name__", "up"), ("job", "a"), ("job", "b")], .duplicateName, "job"),
        ("empty name", [("", "a")], .emptyName, ""),
        ("empty value", [("__name__", "up"), ("job", "")], .emptyValue, "job"),
        ("empty metric name", [("__name__", "")], .emptyValue, "__name__"),
        ("bad utf8", [("__name__", "up"), ("job", "\u{FFFD}")], .invalidUTF8, "job"),
        ("bad utf8 metric name", [("__name__", "\u{FFFD}")], .invalidMetricName, "__name__"),
        ("bad utf8 label name", [("__name__", "up"), ("\u{FFFD}", "a")], .invalidName, "\u{FFFD}")
    ]

    @Test func utf8NamesPassAsInPrometheus3() {
        // Prometheus 3 accepts any valid UTF-8 in metric and label names.
        let l = Labels(sortedPairs: [("__name__", "http.server.duration"), ("service.name", "checkout"), ("ünit", "s")])
        #expect(l.validate() == nil)
        #expect(Labels(sortedPairs: [("1job", "a"), ("__name__", "9up-down"), ("a-b", "x")].sorted { $0.0 < $1.0 }).validate() == nil)
    }

    @Test(arguments: cases)
    func refusedLabels(_ c: (String, [(String, String)], LabelViolation.Rule, String)) {
        var labels = Labels(sortedPairs: c.1.map { (name: $0.0, value: $0.1) })
        if c.0.hasPrefix("bad utf8") {
            // A lone continuation byte where the test wrote U+FFFD; Swift strings cannot hold
            // it, so write the bytes directly.
            var bytes: [UInt8] = []
            let bad: [UInt8] = [0x61, 0x80, 0x62]
            for (name, value) in c.1 {
                FlatLabels.append(name: name == "\u{FFFD}" ? bad : Array(name.utf8), value: value == "\u{FFFD}" ? bad : Array(value.utf8), to: &bytes)
            }
            bytes.withUnsafeBytes { labels = Labels(LabelsView($0)) }
        }
        let violation = labels.validate()
        #expect(violation?.rule == c.2, "\(c.0)")
        #expect(violation?.labelName == (c.3 == "\u{FFFD}" ? String(decoding: [0x61, 0x80, 0x62] as [UInt8], as: UTF8.self) : c.3), "\(c.0)")
    }

    @Test func limitsAreEnforced() {
        let tight = LabelLimits(maxLabelsPerSeries: 2, maxNameLength: 4, maxValueLength: 3)
        let tightButLongNames = LabelLimits(maxLabelsPerSeries: 2, maxNameLength: 8, maxValueLength: 3)
        #expect(Labels(sortedPairs: [("__name__", "1"), ("a", "1"), ("b", "2")]).validate(limits: tightButLongNames)?.rule == .tooManyLabels)
        #expect(Labels(sortedPairs: [("__name__", "1"), ("abcde", "1")]).validate(limits: tight)?.rule == .nameTooLong)
        #expect(Labels(sortedPairs: [("__name__", "1"), ("a", "1234")]).validate(limits: tightButLongNames)?.rule == .valueTooLong)
        #expect(Labels(sortedPairs: [("__name__", "123"), ("a", "123")]).validate(limits: tightButLongNames) == nil)
    }

    static let utf8Cases: [([UInt8], Bool)] = [
        (Array("plain ascii that is longer than eight bytes".utf8), true),
        (Array("grüße 日本 🎉".utf8), true),
        ([0xC0, 0x80], false),  // overlong NUL
        ([0xE0, 0x80, 0x80], false),  // overlong
        ([0xED, 0xA0, 0x80], false),  // surrogate
        ([0xF4, 0x90, 0x80, 0x80], false),  // above U+10FFFF
        ([0xE2, 0x82], false),  // truncated
        ([0xFF], false),
        ([], true)
    ]

    @Test(arguments: utf8Cases)
    func utf8(_ c: ([UInt8], Bool)) {
        #expect(c.0.withUnsafeBytes { UTF8Check.isValid($0) } == c.1, "\(c.0)")
    }
}

@Suite struct SampleTests {
    @Test func staleMarkerIsComparedByBits() {
        #expect(StaleMarker.value.isNaN)
        #expect(StaleMarker.isStale(StaleMarker.value))
        #expect(StaleMarker.value.bitPattern == 0x7FF0_0000_0000_0002)
        #expect(!StaleMarker.isStale(.nan))
        #expect(!StaleMarker.isStale(Double(bitPattern: 0x7FF8_0000_0000_0001)))
        #expect(Sample(timestamp: 1, value: StaleMarker.value).isStale)
        #expect(!Sample(timestamp: 1, value: 1).isStale)
    }

    @Test func samplesCompareNaNByBits() {
        #expect(Sample(timestamp: 1, value: .nan) == Sample(timestamp: 1, value: .nan))
        #expect(Sample(timestamp: 1, value: .nan) != Sample(timestamp: 1, value: StaleMarker.value))
        #expect(Sample(timestamp: 1, value: 0.0) != Sample(timestamp: 1, value: -0.0))
    }
}
