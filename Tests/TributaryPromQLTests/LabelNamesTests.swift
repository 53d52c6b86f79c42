import Testing
import TributaryModel

@testable import TributaryPromQL

/// The bytes a grouping or a match signature is found by: the pairs kept, or those left,
/// compared with label sets built pair by pair. Both evaluations (series at a time and step
/// by step) share this code, so their comparison would not notice it wrong.
@Suite struct LabelNamesTests {
    static let series = Labels(sortedPairs: [
        ("__name__", "node_cpu_seconds_total"), ("cpu", "3"), ("group", "lab-6"), ("instance", "host-1:9100"), ("job", "node"),
        ("mode", "idle")
    ])

    static func filtered(_ names: [String], keep: Bool) -> [UInt8] {
        var out: [UInt8] = []
        LabelNames(names).appendFiltered(series, keep: keep, to: &out)
        return out
    }

    @Test func keptPairsAreThoseNamed() {
        // No name (`sum(x)`), one (`by (group)`, the first and the last pair too), several,
        // one the series lacks.
        #expect(Self.filtered([], keep: true).isEmpty)
        #expect(Self.filtered(["group"], keep: true) == Labels(sortedPairs: [("group", "lab-6")]).bytes)
        #expect(Self.filtered(["__name__"], keep: true) == Labels(sortedPairs: [("__name__", "node_cpu_seconds_total")]).bytes)
        #expect(Self.filtered(["mode"], keep: true) == Labels(sortedPairs: [("mode", "idle")]).bytes)
        #expect(Self.filtered(["absent"], keep: true).isEmpty)
        #expect(Self.filtered(["job", "cpu"], keep: true) == Labels(sortedPairs: [("cpu", "3"), ("job", "node")]).bytes)
        // A name that is a prefix of another's, or shares its length, is not it.
        #expect(Self.filtered(["grou"], keep: true).isEmpty)
        #expect(Self.filtered(["nodes"], keep: true).isEmpty)
    }

    @Test func droppedPairsAreThoseNamed() {
        let all = Self.series.bytes
        #expect(Self.filtered([], keep: false) == all)
        #expect(
            Self.filtered(["__name__"], keep: false)
                == Labels(sortedPairs: [("cpu", "3"), ("group", "lab-6"), ("instance", "host-1:9100"), ("job", "node"), ("mode", "idle")]).bytes)
        #expect(
            Self.filtered(["group", "mode"], keep: false)
                == Labels(sortedPairs: [("__name__", "node_cpu_seconds_total"), ("cpu", "3"), ("instance", "host-1:9100"), ("job", "node")]).bytes)
    }

    /// One name dropped (vector matching's signatures) ends its search where the name would
    /// be: each pair's place, names before, between and after all of them, a prefix of one,
    /// and a set where a capitalised name sorts before `__name__`.
    @Test func oneDroppedNameIsFoundWhereverItSorts() {
        let capitalised: [(String, String)] = [("Host", "a"), ("__name__", "up"), ("job", "node")]
        let plain = [("__name__", "node_cpu_seconds_total"), ("cpu", "3"), ("group", "lab-6"), ("instance", "host-1:9100"), ("job", "node"), ("mode", "idle")]
        for pairs in [plain, capitalised, [("a", "1")], []] {
            let labels = Labels(sortedPairs: pairs)
            for name in pairs.map(\.0) + ["AAA", "Zz", "_", "fan", "grou", "zzz", ""] {
                var out: [UInt8] = [7]
                LabelNames([name]).appendFiltered(labels, keep: false, to: &out)
                #expect(out == [7] + Labels(sortedPairs: pairs.filter { $0.0 != name }).bytes, "\(pairs) without \(name)")
            }
        }
    }

    /// Any set of names, given in any order and with a repeat, kept or dropped, filters as the
    /// pairs taken one by one would: every subset of names before, among, between and after
    /// the pairs (capitals sort before `__name__`; prefixes are not matches), over sets with
    /// and without such pairs. Also whether anything is left out, and `keeping`/`dropping`.
    @Test func anyNamesFilterAsEachPairWould() {
        let candidates = ["AAA", "Host", "__name__", "__type__", "_", "cpu", "grou", "group", "instance", "job", "mode", "zzz"]
        let sets: [[(String, String)]] = [
            [("__name__", "node_cpu_seconds_total"), ("cpu", "3"), ("group", "lab-6"), ("instance", "host-1:9100"), ("job", "node"), ("mode", "idle")],
            [("Host", "a"), ("__name__", "up"), ("__type__", "gauge"), ("job", "node")], [("a", "1")], []
        ]
        var failures: [String] = []
        for pairs in sets {
            let labels = Labels(sortedPairs: pairs)
            for mask in 0..<(1 << candidates.count) {
                let chosen = candidates.indices.filter { mask & (1 << $0) != 0 }.map { candidates[$0] }
                let names = LabelNames(chosen.reversed() + chosen.prefix(1))
                for keep in [true, false] {
                    let expected = Labels(sortedPairs: pairs.filter { chosen.contains($0.0) == keep })
                    var out: [UInt8] = [7]
                    names.appendFiltered(labels, keep: keep, to: &out)
                    let whole = keep ? labels.keeping(names) : labels.dropping(names)
                    let leaves = names.leavesOut(labels, keep: keep)
                    if out != [7] + expected.bytes || whole != expected || leaves != (expected.bytes.count != labels.bytes.count) {
                        failures.append("\(keep ? "keeping" : "dropping") \(chosen) of \(pairs)")
                    }
                }
            }
        }
        let wrong = failures.count, first = failures.first ?? ""
        #expect(wrong == 0, "first wrong: \(first)")
    }
}
