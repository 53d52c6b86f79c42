import Foundation
import FuzzSupport
import TributaryModel
import TributaryPromQL
import TributaryTSDB

// libFuzzer target for the PromQL parser and engine: any input is parsed; what parses is
// evaluated (instant and a short range query) over a few series with a tight time and sample
// budget. A crash, a trap or a hang (libFuzzer's -timeout) is a finding.
// Built by scripts/fuzz with -D FUZZING; a normal build gives a replay tool.

let head: Head = {
    let h = Head()
    _ = try? h.commit { batch in
        for i in 0..<4 {
            let labels: Labels = ["__name__": "m", "job": "j\(i % 2)", "instance": "i\(i)", "le": ["0.1", "1", "+Inf", "10"][i]]
            for k in 0..<20 {
                _ = batch.append(labels, Sample(timestamp: Int64(k) * 15_000, value: Double(k * (i + 1))))
            }
        }
    }
    return h
}()

let engine: Engine = {
    var options = EngineOptions()
    options.maxSamples = 20_000
    options.timeout = 0.5
    return Engine(options: options)
}()

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    let query = String(decoding: data, as: UTF8.self)
    guard let expr = try? Parser.parse(query) else { return }
    let querier = head.querier()
    _ = try? engine.instantQuery(expr, at: 150_000, querier: querier)
    if expr.type == .scalar || expr.type == .vector {
        _ = try? engine.rangeQuery(expr, start: 0, end: 300_000, step: 30_000, querier: querier)
    }
}

#if FUZZING
    @_cdecl("fuzz_promql_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        runFuzzer(argc, argv, fuzzOne)
    }
#else
    /// `fuzz-promql seeds DIR` writes the conformance expressions as a seed corpus; `fuzz-promql
    /// FILE…` replays inputs.
    @main
    struct FuzzReplay {
        static func main() throws {
            try replay(
                seeds: { folder in
                    let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/conformance/promql").standardized
                    var n = 0
                    for file in (try? FileManager.default.contentsOfDirectory(atPath: scripts.path)) ?? [] where file.hasSuffix(".test") {
                        let text = (try? String(contentsOf: scripts.appendingPathComponent(file), encoding: .utf8)) ?? ""
                        for line in text.split(separator: "\n") where line.hasPrefix("eval") {
                            let words = line.split(separator: " ")
                            let expr: String
                            if words.count > 4, words[1] == "instant" { expr = words[4...].joined(separator: " ") } else if words.count > 8, words[1] == "range" { expr = words[8...].joined(separator: " ") } else { continue }
                            try Data(expr.utf8).write(to: folder.appendingPathComponent(String(format: "seed-%04d", n)))
                            n += 1
                        }
                    }
                    return n
                }, fuzzOne)
        }
    }
#endif
