import Foundation
import Testing

@testable import TributaryModel

/// Relabelling as Prometheus's `relabel.Process`: one case per action and the edge cases of
/// defaults, anchoring, empty results and `$` expansion.
@Suite struct RelabelTests {
    static func rule(_ action: RelabelConfig.Action, source: [String] = [], regex: String = "(.*)", target: String = "", replacement: String = "$1", modulus: UInt64 = 0, separator: String = ";") throws -> RelabelConfig {
        var c = try RelabelConfig(regex: regex)
        c.action = action
        c.sourceLabels = source
        c.targetLabel = target
        c.replacement = replacement
        c.modulus = modulus
        c.separator = separator
        return c
    }

    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var input: [String: String]
        var rules: [RelabelConfig]
        var output: [String: String]?
        var description: String { name }
    }

    static let base = ["__name__": "node_cpu_seconds_total", "instance": "host-1:9100", "job": "node", "mode": "idle"]

    static var cases: [Case] {
        get throws {
            [
                Case(name: "replace with the defaults copies", input: base, rules: [try rule(.replace, source: ["job"], target: "copy")], output: base.merging(["copy": "node"]) { a, _ in a }),
                Case(name: "replace with a capture", input: base, rules: [try rule(.replace, source: ["instance"], regex: "(.*):(\\d+)", target: "host", replacement: "${1}-$2")], output: base.merging(["host": "host-1-9100"]) { a, _ in a }),
                Case(name: "replace is anchored", input: base, rules: [try rule(.replace, source: ["instance"], regex: "host", target: "x", replacement: "y")], output: base),
                Case(name: "replace to empty deletes", input: base, rules: [try rule(.replace, source: ["nothing"], target: "mode", replacement: "$1")], output: base.filter { $0.key != "mode" }),
                Case(name: "replace joins sources with the separator", input: base, rules: [try rule(.replace, source: ["job", "mode"], target: "both", separator: "/")], output: base.merging(["both": "node/idle"]) { a, _ in a }),
                Case(name: "replace into a target named by a capture", input: base, rules: [try rule(.replace, source: ["mode"], regex: "(.*)", target: "mode_$1", replacement: "yes")], output: base.merging(["mode_idle": "yes"]) { a, _ in a }),
                Case(
                    name: "replace keeps non-ASCII values whole", input: ["site": "café-Zürich-東京"],
                    rules: [try rule(.replace, source: ["site"], regex: "(.*)-(.*)-(.*)", target: "city", replacement: "$2 ($1, ${3}) ⇒ é")],
                    output: ["site": "café-Zürich-東京", "city": "Zürich (café, 東京) ⇒ é"]),
                Case(
                    name: "replace $1 of a non-ASCII value", input: ["site": "Ñandú"],
                    rules: [try rule(.replace, source: ["site"], regex: "(.+)", target: "copy", replacement: "$1")],
                    output: ["site": "Ñandú", "copy": "Ñandú"]),
                Case(name: "replace with $$ is a literal dollar", input: base, rules: [try rule(.replace, source: ["job"], target: "price", replacement: "$$5")], output: base.merging(["price": "$5"]) { a, _ in a }),
                Case(name: "keep matches", input: base, rules: [try rule(.keep, source: ["mode"], regex: "idle|user")], output: base),
                Case(name: "keep drops the rest", input: base, rules: [try rule(.keep, source: ["mode"], regex: "user")], output: nil),
                Case(name: "drop drops a match", input: base, rules: [try rule(.drop, source: ["__name__"], regex: "node_cpu.*")], output: nil),
                Case(name: "drop keeps a non-match", input: base, rules: [try rule(.drop, source: ["__name__"], regex: "go_.*")], output: base),
                Case(name: "labelmap copies matching names", input: ["__meta_rack": "r1", "job": "j"], rules: [try rule(.labelmap, regex: "__meta_(.+)")], output: ["__meta_rack": "r1", "job": "j", "rack": "r1"]),
                Case(name: "labeldrop", input: base, rules: [try rule(.labeldrop, regex: "mode|instance")], output: ["__name__": "node_cpu_seconds_total", "job": "node"]),
                Case(name: "labelkeep", input: base, rules: [try rule(.labelkeep, regex: "__name__|job")], output: ["__name__": "node_cpu_seconds_total", "job": "node"]),
                Case(name: "lowercase", input: ["A": "MiXeD"], rules: [try rule(.lowercase, source: ["A"], target: "a")], output: ["A": "MiXeD", "a": "mixed"]),
                Case(name: "uppercase", input: ["a": "MiXeD"], rules: [try rule(.uppercase, source: ["a"], target: "A")], output: ["a": "MiXeD", "A": "MIXED"]),
                Case(name: "keepequal keeps equal", input: ["a": "1", "b": "1"], rules: [try rule(.keepequal, source: ["a"], target: "b")], output: ["a": "1", "b": "1"]),
                Case(name: "keepequal drops different", input: ["a": "1", "b": "2"], rules: [try rule(.keepequal, source: ["a"], target: "b")], output: nil),
                Case(name: "dropequal drops equal", input: ["a": "1", "b": "1"], rules: [try rule(.dropequal, source: ["a"], target: "b")], output: nil),
                Case(name: "dropequal keeps different", input: ["a": "1", "b": "2"], rules: [try rule(.dropequal, source: ["a"], target: "b")], output: ["a": "1", "b": "2"]),
                // md5("abc") = 900150983cd24fb0 d6963f7d28e17f72; hashmod takes the low 8 bytes.
                Case(name: "hashmod", input: ["a": "abc"], rules: [try rule(.hashmod, source: ["a"], target: "shard", modulus: 1000)], output: ["a": "abc", "shard": String(UInt64(0xd6963f7d28e17f72) % 1000)]),
                Case(name: "rules run in order", input: base, rules: [try rule(.replace, source: ["mode"], target: "m2"), try rule(.keep, source: ["m2"], regex: "idle")], output: base.merging(["m2": "idle"]) { a, _ in a })
            ]
        }
    }

    @Test func everyAction() throws {
        for c in try Self.cases {
            #expect(Relabeler.process(c.input, c.rules) == c.output, "\(c.name)")
        }
    }

    @Test func md5MatchesKnownDigests() {
        func hex(_ s: String) -> String { MD5.digest(Array(s.utf8)).map { String(format: "%02x", $0) }.joined() }
        #expect(hex("") == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(hex("abc") == "900150983cd24fb0d6963f7d28e17f72")
        #expect(hex(String(repeating: "a", count: 100)) == "36a92cc94a9e0fa21f625f8bfb007adf")
    }
}
