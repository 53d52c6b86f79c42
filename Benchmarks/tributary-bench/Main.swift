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
        case "exposition":
            ExpositionBenchmark.run(seconds: seconds)
        case "tsdb":
            let series = args.firstIndex(of: "--series").flatMap { Int(args[safe: $0 + 1] ?? "") } ?? 100_000
            let memorySeries = args.firstIndex(of: "--memory-series").flatMap { Int(args[safe: $0 + 1] ?? "") } ?? 1_000_000
            do {
                try TSDBBenchmark.run(series: series, memorySeries: memorySeries)
            } catch {
                print("tsdb benchmark failed: \(error)")
                exit(1)
            }
        case "promql":
            let instances = args.firstIndex(of: "--instances").flatMap { Int(args[safe: $0 + 1] ?? "") } ?? 1000
            let rounds = args.firstIndex(of: "--rounds").flatMap { Int(args[safe: $0 + 1] ?? "") } ?? 1441
            do {
                try PromQLBenchmark.run(instances: instances, rounds: rounds)
            } catch {
                print("promql benchmark failed: \(error)")
                exit(1)
            }
        case "ingest-under-query":
            let series = args.firstIndex(of: "--series").flatMap { Int(args[safe: $0 + 1] ?? "") } ?? 20_000
            let binary =
                args.firstIndex(of: "--bin").flatMap { args[safe: $0 + 1] }
                ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tributary").path
            do {
                try IngestUnderQueryBenchmark.run(series: series, tributary: binary)
            } catch {
                print("ingest-under-query benchmark failed: \(error)")
                exit(1)
            }
        case "query":
            let series = args.firstIndex(of: "--series").flatMap { Int(args[safe: $0 + 1] ?? "") } ?? 20_000
            let hours = args.firstIndex(of: "--hours").flatMap { Int(args[safe: $0 + 1] ?? "") } ?? 2
            let range = args.firstIndex(of: "--range").flatMap { Int(args[safe: $0 + 1] ?? "") } ?? 3600
            let step = args.firstIndex(of: "--step").flatMap { Int(args[safe: $0 + 1] ?? "") } ?? 15
            let binary =
                args.firstIndex(of: "--bin").flatMap { args[safe: $0 + 1] }
                ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tributary").path
            do {
                try QueryBenchmark.run(series: series, hours: hours, range: range, step: step, tributary: binary)
            } catch {
                print("query benchmark failed: \(error)")
                exit(1)
            }
        case "soak":
            let series = args.firstIndex(of: "--series").flatMap { Int(args[safe: $0 + 1] ?? "") } ?? 20_000
            let days = args.firstIndex(of: "--days").flatMap { Int(args[safe: $0 + 1] ?? "") } ?? 7
            let retention = args.firstIndex(of: "--retention-days").flatMap { Int(args[safe: $0 + 1] ?? "") } ?? 3
            let binary =
                args.firstIndex(of: "--bin").flatMap { args[safe: $0 + 1] }
                ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tributary").path
            do {
                try SoakBenchmark.run(series: series, days: days, retentionDays: retention, tributary: binary)
            } catch {
                print("soak benchmark failed: \(error)")
                exit(1)
            }
        case "head-memory":
            let series = args.firstIndex(of: "--series").flatMap { Int(args[safe: $0 + 1] ?? "") } ?? 200_000
            let rounds = args.firstIndex(of: "--rounds").flatMap { Int(args[safe: $0 + 1] ?? "") } ?? 240
            let binary =
                args.firstIndex(of: "--bin").flatMap { args[safe: $0 + 1] }
                ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tributary").path
            do {
                try HeadMemoryBenchmark.run(series: series, rounds: rounds, tributary: binary)
            } catch {
                print("head memory benchmark failed: \(error)")
                exit(1)
            }
        case "storage":
            let series = args.firstIndex(of: "--series").flatMap { Int(args[safe: $0 + 1] ?? "") } ?? 2_000
            let hours = args.firstIndex(of: "--hours").flatMap { Int(args[safe: $0 + 1] ?? "") } ?? 6
            let binary =
                args.firstIndex(of: "--bin").flatMap { args[safe: $0 + 1] }
                ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tributary").path
            do {
                try StorageBenchmark.run(series: series, hours: hours, tributary: binary)
            } catch {
                print("storage benchmark failed: \(error)")
                exit(1)
            }
        case "chunks":
            let block = args.firstIndex(of: "--block").flatMap { args[safe: $0 + 1] } ?? "."
            let metric = args.firstIndex(of: "--metric").flatMap { args[safe: $0 + 1] } ?? "node_network_transmit_bytes_total"
            do {
                try ChunkDecodeBenchmark.run(block: block, metric: metric, seconds: seconds)
            } catch {
                print("chunks benchmark failed: \(error)")
                exit(1)
            }
        case "ingest":
            let series = args.firstIndex(of: "--series").flatMap { Int(args[safe: $0 + 1] ?? "") } ?? 20_000
            let rounds = args.firstIndex(of: "--rounds").flatMap { Int(args[safe: $0 + 1] ?? "") } ?? 100
            // --bin: another build of the receiver (a before/after comparison on the same load).
            let binary =
                args.firstIndex(of: "--bin").flatMap { args[safe: $0 + 1] }
                ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tributary").path
            // --replicas 2: every series sent by an HA pair (replica a, then b 700 ms later).
            let replicas = args.firstIndex(of: "--replicas").flatMap { Int(args[safe: $0 + 1] ?? "") } ?? 1
            do {
                let port = args.firstIndex(of: "--port").flatMap { Int(args[safe: $0 + 1] ?? "") }
                try IngestBenchmark.run(series: series, rounds: rounds, tributary: binary, existingPort: port, replicas: replicas)
            } catch {
                print("ingest benchmark failed: \(error)")
                exit(1)
            }
        default:
            print(
                "usage: tributary-bench [decode|exposition|tsdb|promql|chunks|ingest|ingest-under-query|query|storage|head-memory|soak] [--seconds N] [--series N] [--memory-series N] [ingest: --rounds N --replicas 1|2 --bin PATH] [query: --hours H --range S --step S --bin PATH] [storage: --series N --hours H --bin PATH] [head-memory: --series N --rounds N --bin PATH] [soak: --series N --days D --retention-days D] [chunks: --block DIR --metric NAME]"
            )
            exit(2)
        }
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
