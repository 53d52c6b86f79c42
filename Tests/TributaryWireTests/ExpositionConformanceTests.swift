import Foundation
import Testing
import TributaryWire

/// The exposition corpora of ../shared/conformance/exposition (see its FORMAT.md): every case
/// accepted or rejected as it says.
@Suite struct ExpositionConformanceTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/conformance/exposition").standardized

    /// Parses a whole body; nil when accepted, the error otherwise.
    static func parse(_ bytes: [UInt8], _ format: ExpositionFormat) -> ExpositionError? {
        var parser = ExpositionParser(bytes, format: format)
        do {
            while try parser.next() != nil {}
            return nil
        } catch {
            return error
        }
    }

    @Test func openMetricsCorpus() throws {
        let dir = Self.root.appendingPathComponent("openmetrics-parsers")
        let cases = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter {
            FileManager.default.fileExists(atPath: dir.appendingPathComponent("\($0)/test.json").path)
        }.sorted()
        #expect(cases.count == 211, "the corpus is missing: \(dir.path)")
        var passed = 0
        for name in cases {
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("\(name)/test.json"))) as? [String: Any]
            let shouldParse = json?["shouldParse"] as? Bool ?? false
            let bytes = try [UInt8](Data(contentsOf: dir.appendingPathComponent("\(name)/metrics")))
            let error = Self.parse(bytes, .openMetrics)
            if (error == nil) == shouldParse {
                passed += 1
            } else {
                Issue.record("\(name): expected \(shouldParse ? "accept" : "reject"), got \(error.map { "error \($0)" } ?? "accepted")")
            }
        }
        print("OpenMetrics corpus: \(passed) of \(cases.count) cases as expected")
    }

    @Test func prometheusTextCorpus() throws {
        let dir = Self.root.appendingPathComponent("prometheus-text-fuzz-corpus")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(files.count == 26, "the corpus is missing: \(dir.path)")
        var passed = 0
        for name in files {
            let shouldParse = !name.hasPrefix("from_test_parse_error")
            var bytes = try [UInt8](Data(contentsOf: dir.appendingPathComponent(name)))
            var error = Self.parse(bytes, .prometheusText)
            // A reject case must be rejected for its own reason, not only for a missing final newline.
            if !shouldParse, name != "from_test_parse_error_0", bytes.last != UInt8(ascii: "\n") {
                bytes.append(UInt8(ascii: "\n"))
                error = Self.parse(bytes, .prometheusText)
            }
            if (error == nil) == shouldParse {
                passed += 1
            } else {
                Issue.record("\(name): expected \(shouldParse ? "accept" : "reject"), got \(error.map { "error \($0)" } ?? "accepted")")
            }
        }
        print("Prometheus text corpus: \(passed) of \(files.count) files as expected")
    }
}
