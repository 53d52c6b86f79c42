import Foundation

/// Benchmarks that `swift test` never runs. Build in release:
///   swift build -c release --product tributary-bench && .build/release/tributary-bench decode
@main
struct BenchMain {
    static func main() {
        let args = Array(CommandLine.arguments.dropFirst())
        let seconds = args.firstIndex(of: "--seconds").flatMap { Double(args[safe: $0 + 1] ?? "") } ?? 3
        switch args.first {
        case "decode", nil:
            DecodeBenchmark.run(seconds: seconds)
        default:
            print("usage: tributary-bench [decode] [--seconds N]")
            exit(2)
        }
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
