import Foundation
import Testing
import TributaryModel
import TributaryPromQL
import TributaryTSDB

/// Prometheus's own PromQL test scripts, run against our engine. Prints per file how many
/// evals ran, passed and were skipped (and why); every eval that is run must pass, and the
/// number run must not shrink (so skipping more cannot hide a regression).
@Suite struct ConformanceTests {
    static var folder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../../shared/conformance/promql").standardized
    }

    /// Evals that must keep passing (raise it when more pass).
    static let passingFloor = 1243

    @Test func prometheusTestScripts() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).filter { $0.hasSuffix(".test") }.sorted()
        #expect(files.count >= 20, "conformance scripts missing at \(Self.folder.path)")
        var totalRun = 0, totalPassed = 0, totalSkipped = 0
        var allFailures: [String] = []
        var needHistograms: [String] = []
        var report = "PromQL conformance (lenient: annotations and error texts not compared)\n"
        for file in files {
            let text = try String(contentsOf: Self.folder.appendingPathComponent(file), encoding: .utf8)
            let script = try TestScript(text)
            var runner = ScriptRunner(file: file)
            runner.run(script)
            let o = runner.outcome
            let skipped = o.skipped.values.reduce(0, +)
            totalRun += o.run
            totalPassed += o.passed
            totalSkipped += skipped
            allFailures += o.failures
            needHistograms += o.needHistograms
            let reasons = o.skipped.sorted { $0.value > $1.value }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            let name = file.padding(toLength: 26, withPad: " ", startingAt: 0)
            report +=
                "  \(name)" + String(format: "run %4d  passed %4d  failed %4d  skipped %4d", o.run, o.passed, o.run - o.passed, skipped)
                + (reasons.isEmpty ? "" : " (\(reasons))") + "\n"
        }
        report += "  total: run \(totalRun), passed \(totalPassed), failed \(totalRun - totalPassed), skipped \(totalSkipped)\n"
        print(report)
        let failureLog = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-promql-failures.txt")
        try? allFailures.joined(separator: "\n").write(to: failureLog, atomically: true, encoding: .utf8)
        let histogramLog = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-promql-need-histograms.txt")
        try? needHistograms.joined(separator: "\n").write(to: histogramLog, atomically: true, encoding: .utf8)
        print("evals that differ without their native-histogram series: \(histogramLog.path)")
        print("first failures (all in \(failureLog.path)):")
        for f in allFailures.prefix(40) { print("  \(f)") }
        #expect(totalRun > 1000)
        #expect(totalPassed >= Self.passingFloor, "passing evals fell to \(totalPassed)")
        #expect(totalRun == totalPassed, "every runnable eval passes; \(totalRun - totalPassed) fail")
    }

    /// Our own scripts (Tests/TributaryPromQLTests/Scripts): every eval must pass.
    @Test func ownScripts() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Scripts").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".test") }.sorted()
        #expect(!files.isEmpty)
        for file in files {
            let script = try TestScript(try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8))
            var runner = ScriptRunner(file: file)
            runner.run(script)
            print("\(file): run \(runner.outcome.run), passed \(runner.outcome.passed)")
            #expect(runner.outcome.run > 10)
            #expect(runner.outcome.skipped.isEmpty, "\(runner.outcome.skipped)")
            for failure in runner.outcome.failures { Issue.record("\(failure)") }
        }
    }
}

/// The engine's limits end a query cleanly, with Prometheus's error types.
@Suite struct EngineLimitTests {
    func head(series: Int, samples: Int) throws -> Head {
        let head = Head()
        _ = try head.commit { b in
            for i in 0..<series {
                for k in 0..<samples { _ = b.append(["__name__": "m", "i": "\(i)"], Sample(timestamp: Int64(k) * 15_000, value: Double(k))) }
            }
        }
        return head
    }

    @Test func sampleLimitStopsTheQuery() throws {
        var options = EngineOptions()
        options.maxSamples = 1000
        let h = try head(series: 20, samples: 100)
        // 2,000 points: the result of the first (series at a time), the samples loaded by the
        // second (step by step); sum(m) holds one series and one group at a time.
        for query in ["m", "topk(3, m)", "m * 2"] {
            do {
                _ = try Engine(options: options).rangeQuery(query, start: 0, end: 1_485_000, step: 15_000, querier: h.querier())
                Issue.record("expected the sample limit to stop \(query)")
            } catch let error as EvaluationError {
                #expect(error.kind == .tooManySamples, "\(query)")
                #expect(error.message.contains("too many samples"))
            }
        }
        #expect(throws: Never.self) { try Engine(options: options).rangeQuery("sum(m)", start: 0, end: 1_485_000, step: 15_000, querier: h.querier()) }
        // Within the limit the same queries work.
        options.maxSamples = 10_000
        for query in ["m", "topk(3, m)", "m * 2"] {
            #expect(throws: Never.self) { try Engine(options: options).rangeQuery(query, start: 0, end: 1_485_000, step: 15_000, querier: h.querier()) }
        }
    }

    @Test func timeoutStopsTheQuery() throws {
        var options = EngineOptions()
        options.timeout = 0
        let h = try head(series: 2, samples: 10)
        do {
            _ = try Engine(options: options).rangeQuery("m", start: 0, end: 100_000, step: 1000, querier: h.querier())
            Issue.record("expected a timeout")
        } catch let error as EvaluationError {
            #expect(error.kind == .timeout)
        }
    }

    @Test func hugeSubqueryIsRefusedBeforeItRuns() throws {
        let h = try head(series: 1, samples: 10)
        do {
            _ = try Engine().instantQuery("max_over_time(m[1000d:1ms])", at: 100_000, querier: h.querier())
            Issue.record("expected the subquery to be refused")
        } catch let error as EvaluationError {
            #expect(error.kind == .tooManySamples)
        }
    }
}
