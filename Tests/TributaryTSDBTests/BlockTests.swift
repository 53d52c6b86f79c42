import Foundation
import Testing
import TributaryModel
import TributaryWAL

@testable import TributaryTSDB

/// Blocks in Prometheus's format: what we write, Debian's promtool lists, analyzes and dumps
/// sample for sample; what promtool writes, we read; damage fails with file and offset.
@Suite struct BlockTests {
    static let hour: Int64 = 3_600_000

    /// `series` series of 15 s samples over `[from, to)`: counters with a reset, fractions,
    /// a stale marker and ±Inf, so every XOR case reaches the disk.
    static func data(series: Int = 40, from: Int64 = 0, to: Int64 = 3 * hour) -> [Labels: [Sample]] {
        var out: [Labels: [Sample]] = [:]
        for i in 0..<series {
            let labels: Labels = ["__name__": i % 2 == 0 ? "node_cpu_seconds_total" : "node_load1", "instance": "host-\(i)", "job": "node"]
            var samples: [Sample] = []
            var k = 0
            for t in stride(from: from, to: to, by: 15_000) {
                var v = i % 2 == 0 ? Double(k % 500) * 1.5 : Double(i) / 7 + Double(k) / 3
                if k == 100, i == 3 { v = .infinity }
                if k == 101, i == 3 { v = -.infinity }
                samples.append(Sample(timestamp: t, value: v))
                k += 1
            }
            if i == 5 { samples.append(Sample(timestamp: to, value: StaleMarker.value)) }
            out[labels] = samples
        }
        return out
    }

    static func load(_ head: Head, _ data: [Labels: [Sample]]) throws {
        let longest = data.values.map(\.count).max() ?? 0
        for k in 0..<longest {
            _ = try head.commit { b in
                for (labels, samples) in data where k < samples.count { _ = b.append(labels, samples[k]) }
            }
        }
    }

    static func bitsEqual(_ a: [Sample]?, _ b: [Sample]?) -> Bool {
        guard let a, let b, a.count == b.count else { return false }
        return zip(a, b).allSatisfy { $0.timestamp == $1.timestamp && $0.value.bitPattern == $1.value.bitPattern }
    }

    @Test func headPersistedToABlockReadsBackAndPromtoolAgrees() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let data = Self.data()
        let head = Head()
        try Self.load(head, data)
        let db = try DB(directory: dir.path, head: head)
        try db.persist(before: 2 * Self.hour)
        #expect(db.blocks.count == 1)
        let block = try #require(db.blocks.first)
        #expect(block.minTime == 0 && block.maxTime == 2 * Self.hour)
        #expect(block.meta.stats.numSeries == 40)
        #expect(block.meta.stats.numSamples == 40 * 480)
        #expect(head.minTime == 2 * Self.hour, "the head dropped what the block holds")

        // Read back through blocks + head: every sample once, bit for bit.
        let all = try db.querier().dump([m("job", .equal, "node")])
        #expect(all.count == data.count)
        for (labels, samples) in data { #expect(Self.bitsEqual(all[labels], samples), "\(labels)") }
        // The block alone holds exactly the first two hours.
        let blockOnly = try block.querier().dump([m("job", .equal, "node")])
        for (labels, samples) in data {
            #expect(Self.bitsEqual(blockOnly[labels], samples.filter { $0.timestamp < 2 * Self.hour }))
        }
        let regex = try block.querier().dump([m("instance", .regexMatch, "host-1.*"), m("__name__", .notEqual, "node_load1")])
        #expect(regex.count == 5, "host-10, 12, 14, 16, 18 (host-1 and the odd ones are node_load1): \(regex.keys)")

        // Debian's promtool reads the block (copied alone: promtool would also read our WAL).
        let promDir = dir.path + "/prom"
        try FileManager.default.createDirectory(atPath: promDir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: promDir + "/wal", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: block.directory, toPath: promDir + "/" + block.ulid)
        let list = try promtool(["tsdb", "list", promDir])
        #expect(list.contains(block.ulid) && list.contains("19200"), "\(list)")
        let analyze = try promtool(["tsdb", "analyze", promDir, block.ulid])
        #expect(analyze.contains("Series: 40"), "\(analyze)")
        let dump = try promtool(["tsdb", "dump", promDir])
        var dumped: [String: [Sample]] = [:]
        for line in dump.split(separator: "\n") {
            // `{__name__="node_load1", instance="host-1", job="node"} 0.14285714285714285 0`
            guard let close = line.lastIndex(of: "}") else { continue }
            let fields = line[line.index(after: close)...].split(separator: " ")
            guard fields.count == 2, let v = Double(fields[0]), let t = Int64(fields[1]) else {
                Issue.record("unparsed dump line: \(line)")
                continue
            }
            dumped[String(line[...close]), default: []].append(Sample(timestamp: t, value: v))
        }
        #expect(dumped.count == 40)
        for (labels, samples) in data {
            let key = "{" + labels.pairs.map { "\($0.name)=\"\($0.value)\"" }.joined(separator: ", ") + "}"
            let want = samples.filter { $0.timestamp < 2 * Self.hour }
            let got = dumped[key] ?? []
            #expect(got.count == want.count, "\(key)")
            #expect(zip(got, want).allSatisfy { $0.timestamp == $1.timestamp && ($0.value == $1.value || ($0.value.isNaN && $1.value.isNaN)) }, "\(key)")
        }
    }

    @Test func blocksWrittenByPromtoolOpenAndAnswerTheSame() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        // OpenMetrics input: 3 series over 5 hours, seconds timestamps.
        var text = "# TYPE demo_temperature gauge\n"
        var want: [Labels: [Sample]] = [:]
        for room in ["kitchen", "hall", "attic"] {
            let labels: Labels = ["__name__": "demo_temperature", "room": room]
            for k in 0..<1200 {
                let t = Int64(1_700_000_000_000) + Int64(k) * 15_000
                let v = Double(k % 97) / 4 + (room == "hall" ? 0.5 : 0)
                text += "demo_temperature{room=\"\(room)\"} \(v) \(Double(t) / 1000)\n"
                want[labels, default: []].append(Sample(timestamp: t, value: v))
            }
        }
        text += "# EOF\n"
        let input = dir.path + "/input.om"
        try text.write(toFile: input, atomically: true, encoding: .utf8)
        let out = dir.path + "/blocks"
        _ = try promtool(["tsdb", "create-blocks-from", "openmetrics", input, out])
        let db = try DB(directory: out, head: Head())
        #expect(db.blocks.count >= 2, "5 hours make several 2h blocks: \(db.blocks.map(\.ulid))")
        let got = try db.querier().dump([m("__name__", .equal, "demo_temperature")])
        #expect(got.count == 3)
        for (labels, samples) in want { #expect(Self.bitsEqual(got[labels], samples), "\(labels)") }
        let values = try db.querier().labelValues("room", matching: [], start: .min, end: .max, limit: 0)
        #expect(values == ["attic", "hall", "kitchen"])

        // `tributary tsdb list|analyze` read them as promtool does.
        let list = try run(Self.tributary, ["tsdb", "list", out])
        for b in db.blocks { #expect(list.contains(b.ulid), "\(list)") }
        #expect(list.contains("NUM SAMPLES") && list.split(separator: "\n").count == db.blocks.count + 1, "\(list)")
        let analyze = try run(Self.tributary, ["tsdb", "analyze", out])
        #expect(analyze.contains("Series: 3") && analyze.contains("3 room") && analyze.contains("3 demo_temperature"), "\(analyze)")
    }

    static var tributary: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/debug/tributary").standardized.path
    }

    @Test func damagedBlocksFailWithFileAndOffset() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let head = Head()
        try Self.load(head, Self.data(series: 10))
        let db = try DB(directory: dir.path, head: head)
        try db.persist(before: 2 * Self.hour)
        let block = try #require(db.blocks.first)
        // A byte flipped in the middle of the index: opening or reading names the file.
        let index = block.directory + "/index"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: index)))
        let original = bytes
        // Inside the symbols, the first series entry, the postings offset table and the TOC
        // (padding between sections is not checksummed, in Prometheus's format either).
        let toc = bytes.count - 52
        let seriesAt = bytes[(toc + 8)..<(toc + 16)].reduce(0) { $0 << 8 | Int($1) }
        for spot in [7, (seriesAt + 15) / 16 * 16 + 3, bytes.count - 60, toc + 20] {
            bytes = original
            bytes[spot] ^= 0x5A
            try Data(bytes).write(to: URL(fileURLWithPath: index))
            do {
                let reopened = try Block(directory: block.directory)
                _ = try reopened.querier().dump([m("job", .equal, "node")])
                Issue.record("a flipped byte at \(spot) went unnoticed")
            } catch let error as BlockError {
                #expect(error.description.contains("index") && error.description.contains("byte"), "\(error)")
            } catch let error as QueryError {
                #expect(error.description.contains("index") && error.description.contains("byte"), "\(error)")
            }
        }
        try Data(original).write(to: URL(fileURLWithPath: index))
        // A byte flipped inside the first chunk's data (after the segment's 8-byte header, the
        // record's length and its encoding byte): the query fails when it selects the series,
        // though their chunks are decoded later, in place.
        let segment = block.directory + "/chunks/000001"
        let chunks = try Data(contentsOf: URL(fileURLWithPath: segment))
        var flipped = [UInt8](chunks)
        flipped[8 + 2 + 5] ^= 0x5A
        try Data(flipped).write(to: URL(fileURLWithPath: segment))
        do {
            _ = try Block(directory: block.directory).querier().dump([m("job", .equal, "node")])
            Issue.record("a flipped byte inside a chunk went unnoticed")
        } catch let error as QueryError {
            #expect(error.description.contains("000001") && error.description.contains("chunk"), "\(error)")
        }
        // A chunk segment cut short.
        try chunks.prefix(chunks.count / 2).write(to: URL(fileURLWithPath: segment))
        let reopened = try Block(directory: block.directory)
        #expect(throws: QueryError.self) { try reopened.querier().dump([m("job", .equal, "node")]) }
        // meta.json that is not JSON.
        try "{".write(toFile: block.directory + "/meta.json", atomically: true, encoding: .utf8)
        #expect(throws: BlockError.self) { try Block(directory: block.directory) }
    }

    @Test func ulidsSortByTimeAndRoundTrip() throws {
        let a = ULID(milliseconds: 1_700_000_000_000), b = ULID(milliseconds: 1_700_000_000_001)
        #expect(a < b && a.description.count == 26)
        #expect(a.milliseconds == 1_700_000_000_000)
        #expect(ULID(a.description) == a)
        #expect(ULID("not-a-ulid") == nil && ULID("8ZZZZZZZZZZZZZZZZZZZZZZZZZ") == nil)
    }

    func promtool(_ args: [String]) throws -> String { try run("/usr/bin/promtool", args) }

    func run(_ executable: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else {
            throw BlockError("\(executable) \(args.joined(separator: " ")) failed (\(p.terminationStatus)): \(String(decoding: errors, as: UTF8.self)) \(text)")
        }
        return text
    }
}
