import ArgumentParser
import Foundation
import TributaryTSDB

/// `tributary tsdb list|analyze DIR`: the blocks of a data directory, as promtool shows them.
struct TSDB: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tsdb",
        abstract: "Inspect the blocks of a data directory (read-only; works on Prometheus's too).",
        subcommands: [ListBlocks.self, AnalyzeBlock.self]
    )
}

struct ListBlocks: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List blocks: time range, samples, series, size, bytes per sample.")

    @Argument(help: "The data directory (receiver --data-dir).") var directory: String
    @Flag(name: .customLong("human-readable"), help: "Times as dates, sizes in MiB.") var human = false

    func run() throws {
        let blocks: [Block]
        do { blocks = try Block.openAll(in: directory) } catch { throw CommandError(error.description) }
        print(["BLOCK ULID", "MIN TIME", "MAX TIME", "DURATION", "NUM SAMPLES", "NUM CHUNKS", "NUM SERIES", "SIZE", "BYTES/SAMPLE"].joined(separator: "\t"))
        for b in blocks {
            let size = b.sizeBytes
            let perSample = Double(size) / max(Double(b.meta.stats.numSamples), 1)
            let times = human ? [Self.date(b.minTime), Self.date(b.maxTime)] : ["\(b.minTime)", "\(b.maxTime)"]
            let sizeText = human ? String(format: "%.1fMiB", Double(size) / 1_048_576) : "\(size)"
            print(
                ([b.ulid] + times + [
                    Self.duration(b.maxTime - b.minTime), "\(b.meta.stats.numSamples)", "\(b.meta.stats.numChunks)", "\(b.meta.stats.numSeries)",
                    sizeText, String(format: "%.2f", perSample)
                ]).joined(separator: "\t"))
        }
    }

    static func date(_ ms: Int64) -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    static func duration(_ ms: Int64) -> String {
        let s = ms / 1000
        return s % 3600 == 0 ? "\(s / 3600)h" : s % 60 == 0 ? "\(s / 60)m" : "\(s)s"
    }
}

struct AnalyzeBlock: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "analyze", abstract: "Cardinality and bytes per sample of a block (the newest by default).")

    @Argument(help: "The data directory (receiver --data-dir).") var directory: String
    @Argument(help: "A block ULID (default: the newest).") var block: String?
    @Option(help: "Entries per list.") var limit = 20

    func run() throws {
        do {
            let blocks = try Block.openAll(in: directory)
            guard let chosen = block.map({ id in blocks.first { $0.ulid == id } }) ?? blocks.last else {
                throw CommandError(block.map { "\(directory): no block \($0)" } ?? "\(directory): no blocks")
            }
            let a = try chosen.analyze(limit: limit)
            print("Block ID: \(chosen.ulid)")
            print("Duration: \(ListBlocks.duration(chosen.maxTime - chosen.minTime))")
            print("Series: \(a.series)")
            print("Label names: \(a.labelNames)")
            print("Postings (unique label pairs): \(a.labelPairs)")
            print("Postings entries (total label pairs): \(a.postingsEntries)")
            print(String(format: "Chunk bytes per sample: %.2f", a.bytesPerSample))
            for (title, list) in [
                ("Highest cardinality labels", a.valuesPerLabelName), ("Highest cardinality metric names", a.seriesPerMetricName),
                ("Most common label pairs", a.seriesPerLabelPair)
            ] {
                print("\n\(title):")
                for e in list { print("\(e.count) \(e.name)") }
            }
        } catch let error as CommandError {
            throw error
        } catch {
            throw CommandError("\(error)")
        }
    }
}
