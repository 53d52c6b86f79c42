import Testing
import TributaryModel

@Suite struct LabelsTests {
    @Test func builderSortsAndDropsEmptyValues() {
        var b = LabelsBuilder()
        b.set("job", "node")
        b.set("__name__", "up")
        b.set("instance", "a:9100")
        b.set("gone", "")
        b.set("job", "node2")
        let labels = b.labels()
        #expect(labels.pairs.map(\.name) == ["__name__", "instance", "job"])
        #expect(labels.value(of: "job") == "node2")
        #expect(labels.value(of: "gone") == nil)
        #expect(labels.count == 3)
        #expect(labels.description == #"{__name__="up", instance="a:9100", job="node2"}"#)
    }

    @Test func equalityAndHashFollowBytes() {
        let a: Labels = ["job": "node", "__name__": "up"]
        let b = Labels(sortedPairs: [("__name__", "up"), ("job", "node")])
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a.stableHash == b.stableHash)
        let c: Labels = ["job": "node", "__name__": "down"]
        #expect(a != c)
        #expect(a.stableHash != c.stableHash)
    }

    @Test func orderingIsLabelByLabel() {
        // Byte order of the flat encoding would put "b" (length 1) before "aa" (length 2);
        // Prometheus orders by name first, so {a="x"} < {aa="x"} < {b="x"}.
        let a: Labels = ["a": "x"], aa: Labels = ["aa": "x"], b: Labels = ["b": "x"]
        #expect(a < aa)
        #expect(aa < b)
        let shorter: Labels = ["a": "1"], longer: Labels = ["a": "1", "b": "2"]
        #expect(shorter < longer)
        #expect(!(longer < shorter))
        #expect([b, longer, aa, a].sorted() == [longer, a, aa, b])
    }

    /// The comparison skips the bytes both encodings share: its order must still be names and
    /// values compared in turn as byte strings (a length prefix that differs inside the shared
    /// bytes, a value that is the other's start, long values with two-byte lengths, sets that are
    /// the other's start), checked against that order over every pair of a varied list.
    @Test func orderingMatchesStringByStringOverSharedStarts() {
        let values = ["", "a", "ab", "abc", "b", "abd", String(repeating: "x", count: 130), String(repeating: "x", count: 129) + "y", "é", "a\u{0}"]
        var sets: [[(name: String, value: String)]] = []
        for v in values {
            sets.append([(name: "__name__", value: "node_load1"), (name: "instance", value: v)])
            sets.append([(name: "__name__", value: "node_load1"), (name: "instance", value: v), (name: "job", value: "node")])
            sets.append([(name: "__name__", value: "node_load1"), (name: "instanc", value: v)])
            sets.append([(name: "__name__", value: "node_load" + v)])
        }
        sets.append([])
        func reference(_ a: [(name: String, value: String)], _ b: [(name: String, value: String)]) -> Int {
            let x = a.flatMap { [Array($0.name.utf8), Array($0.value.utf8)] }, y = b.flatMap { [Array($0.name.utf8), Array($0.value.utf8)] }
            for (l, r) in zip(x, y) where l != r { return l.lexicographicallyPrecedes(r) ? -1 : 1 }
            return x.count == y.count ? 0 : x.count < y.count ? -1 : 1
        }
        var checked = 0
        for a in sets {
            for b in sets {
                let la = Labels(sortedPairs: a), lb = Labels(sortedPairs: b)
                let got = la.withView { l in lb.withView { r in l.compare(r) } }
                #expect(got.signum() == reference(a, b), "\(la) against \(lb)")
                #expect((la < lb) == (reference(a, b) < 0))
                checked += 1
            }
        }
        #expect(checked == sets.count * sets.count)
    }

    @Test func descriptionEscapesValues() {
        let l: Labels = ["msg": "a \"quoted\"\nline\\"]
        #expect(l.description == #"{msg="a \"quoted\"\nline\\"}"#)
    }

    @Test func longValuesUseMultiByteLengths() {
        let long = String(repeating: "v", count: 300)
        let l: Labels = ["__name__": "m", "k": long]
        #expect(l.value(of: "k") == long)
        #expect(l.count == 2)
    }

    @Test func stableHashIsFixedAcrossRuns() {
        // The hash picks shards and is persisted later, so it must never change silently.
        let l: Labels = ["__name__": "up", "job": "node"]
        #expect(l.stableHash == l.withView { StableHash.hash($0.bytes) })
        #expect(l.stableHash == 0xCBD7_2D02_FE88_7AE1, "value \(String(l.stableHash, radix: 16))")
    }
}
