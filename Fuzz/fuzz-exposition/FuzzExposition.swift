import Foundation
import TributaryWire

// libFuzzer target for the exposition parsers: every input goes through the Prometheus text
// 0.0.4 parser and the OpenMetrics parser. A crash, a trap or a hang is a finding; so is an
// entry whose ranges fall outside the body, or a sample with no name.
// Built by scripts/fuzz with -D FUZZING; a normal build gives a replay tool.

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    let bytes = [UInt8](data)
    for format in [ExpositionFormat.prometheusText, .openMetrics] {
        var parser = ExpositionParser(bytes, format: format)
        var entries = 0
        while let entry = try? parser.next() {
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
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

// SwiftPM links an executable target's entry point as `<target>_main`.
@_cdecl("fuzz_exposition_main")
public func fuzzExpositionMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput)
}
#else
/// Without libFuzzer: `fuzz-exposition seeds DIR` copies the conformance corpora as seeds;
/// `fuzz-exposition FILE…` replays inputs.
@main
struct FuzzReplay {
    static func main() throws {
        let args = Array(CommandLine.arguments.dropFirst())
        if args.first == "seeds", args.count == 2 {
            let folder = URL(fileURLWithPath: args[1])
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
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
            print("wrote \(n) seeds to \(folder.path)")
            return
        }
        for path in args {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            bytes.withUnsafeBytes { fuzzOne($0) }
            print("ok \(path)")
        }
    }
}
#endif
