import Foundation
import FuzzSupport
import TributaryWire

// libFuzzer target for the exposition parsers: every input goes through the Prometheus text
// 0.0.4 parser (twice: parsing every label set, and skipping those of known series) and the
// OpenMetrics parser. A crash, a trap or a hang is a finding; so is an
// entry whose ranges fall outside the body, or a sample with no name.
// Built by scripts/fuzz with -D FUZZING; a normal build gives a replay tool.

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    let bytes = [UInt8](data)
    // The text parser once more as a scrape loop drives it, every series known: label sets
    // are skipped by their closing brace, not parsed.
    for (format, known) in [(ExpositionFormat.prometheusText, false), (.openMetrics, false), (.prometheusText, true)] {
        var parser = ExpositionParser(bytes, format: format)
        var entries = 0
        while let entry = try? parser.next(known: { key in
            precondition(key.count <= bytes.count)
            return known
        }) {
            entries += 1
            if case .sample(let s) = entry {
                precondition(!s.name.isEmpty && s.series.upperBound <= bytes.count && s.name.lowerBound == s.series.lowerBound)
                for l in parser.labels {
                    precondition(l.name.upperBound <= bytes.count && l.value.upperBound <= bytes.count)
                    _ = parser.labelValue(l)
                }
            }
            precondition(entries <= bytes.count + 1, "more entries than bytes")
        }
    }
}

#if FUZZING
    @_cdecl("fuzz_exposition_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        runFuzzer(argc, argv, fuzzOne)
    }
#else
    /// `fuzz-exposition seeds DIR` copies the conformance corpora as seeds; `fuzz-exposition
    /// FILE…` replays inputs.
    @main
    struct FuzzReplay {
        static func main() throws {
            try replay(
                seeds: { folder in
                    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/conformance/exposition").standardized
                    var n = 0
                    let walker = FileManager.default.enumerator(atPath: root.path)
                    while let path = walker?.nextObject() as? String {
                        guard !path.hasSuffix(".json"), !path.hasSuffix(".md"), !path.hasSuffix(".txt") else { continue }
                        let url = root.appendingPathComponent(path)
                        var isDirectory: ObjCBool = false
                        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
                        try Data(contentsOf: url).write(to: folder.appendingPathComponent(String(format: "seed-%04d", n)))
                        n += 1
                    }
                    return n
                }, fuzzOne)
        }
    }
#endif
