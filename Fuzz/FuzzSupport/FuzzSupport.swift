import Foundation

// The libFuzzer driver and the replay tool every fuzz target shares. A target defines
// `fuzzOne` and, per build, either its `<target>_main` entry point (which SwiftPM links for an
// executable target) calling `runFuzzer`, or an `@main` calling `replay`.

/// What a target does with one input.
public typealias FuzzBody = (UnsafeRawBufferPointer) -> Void

nonisolated(unsafe) private var currentBody: FuzzBody?

#if FUZZING
    @_silgen_name("LLVMFuzzerRunDriver")
    func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    /// libFuzzer's runtime refers to this symbol; it feeds the input to the body `runFuzzer` set.
    @_cdecl("LLVMFuzzerTestOneInput")
    public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        currentBody?(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }

    /// Hands the process to libFuzzer's driver, feeding each input to `body`.
    public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ body: @escaping FuzzBody) -> CInt {
        currentBody = body
        var argc = argc
        var argv = argv
        return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput)
    }
#endif

/// Without libFuzzer: `TARGET seeds DIR` calls `seeds` to fill DIR with a seed corpus;
/// `TARGET FILE…` replays inputs (a crash file, say) through `body`. `extra` may take other
/// arguments first and return true when it did.
public func replay(seeds: (URL) throws -> Int, extra: ([String]) throws -> Bool = { _ in false }, _ body: FuzzBody) throws {
    let args = Array(CommandLine.arguments.dropFirst())
    if args.first == "seeds", args.count == 2 {
        let folder = URL(fileURLWithPath: args[1])
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        print("wrote \(try seeds(folder)) seeds to \(folder.path)")
        return
    }
    if try extra(args) { return }
    for path in args {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes.withUnsafeBytes { body($0) }
        print("ok \(path)")
    }
}
