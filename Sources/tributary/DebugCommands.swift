import ArgumentParser
import Foundation
import TributaryModel
import TributaryWire

/// Tools for looking at what senders send.
struct Debug: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect remote-write data.",
        subcommands: [DecodeWrite.self]
    )
}

/// `tributary debug decode-write FILE`: prints a snappy-compressed remote-write body as text.
struct DecodeWrite: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode-write",
        abstract: "Print the series, samples and metadata of a remote-write body (snappy + protobuf)."
    )

    @Argument(help: "A file holding one request body, as sent over HTTP.") var file: String
    @Flag(help: "Decode as remote write 2.0 (io.prometheus.write.v2.Request).") var v2 = false
    @Option(help: "Print at most this many series.") var limit = 20

    func run() throws {
        let body: Data
        do {
            body = try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw CommandError("cannot read \(file): \(error.localizedDescription)")
        }
        let decoder = WriteRequestDecoder()
        let batch: WriteBatch
        do {
            batch = try decoder.decode(Array(body), version: v2 ? .v2 : .v1)
        } catch {
            throw CommandError("\(file): \(error.message)")
        }
        print("# \(batch.series.count) series, \(batch.sampleCount) samples, \(batch.exemplars.count) exemplars, \(batch.histogramCount) histograms, \(batch.metadata.count) metadata, \(batch.rejectedSeries) series refused")
        if let error = batch.firstError { print("# first refused: \(error.message)") }
        for m in batch.metadata.prefix(limit) {
            print("# TYPE \(m.metricFamilyName) \(m.type.name)\n# HELP \(m.metricFamilyName) \(m.help)")
        }
        for series in batch.series.prefix(limit) {
            let labels = batch.labels(of: series)
            for sample in batch.samples(of: series) {
                let value = sample.isStale ? "stale" : "\(sample.value)"
                print("\(labels) \(value) \(sample.timestamp)")
            }
        }
        if batch.series.count > limit { print("# … \(batch.series.count - limit) more series (--limit)") }
    }
}
