import Foundation
import FuzzSupport
import TributaryModel
import TributaryTSDB

// libFuzzer target for the block readers: every input is read as a block's `index` (TOC,
// symbols, postings offset table, then every postings list, every series the all-series list
// names, and a selection by matchers), as a chunk segment (a chunk at many offsets, each
// decoded), as a tombstones file, and as an XOR chunk. A crash, a trap or a hang is a finding; errors are expected.
// Built by scripts/fuzz with -D FUZZING; a normal build gives a replay tool.

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    let bytes = [UInt8](data)
    var samples: [Sample] = []
    if let index = try? IndexReader(file: MappedFile(copying: bytes, path: "index")) {
        for (_, values) in index.postingsTable.prefix(64) {
            for (_, offset) in values.prefix(64) { _ = try? index.postings(at: offset) }
        }
        for ref in ((try? index.allPostingsList()) ?? []).prefix(256) {
            guard let series = try? index.series(ref) else { continue }
            precondition(series.chunks.count <= bytes.count)
        }
        if let matcher = try? Matcher(.regexMatch, "a", "b.*") { _ = try? index.select([matcher]) }
    }
    if let segments = try? ChunkSegmentReader(segments: [MappedFile(copying: bytes, path: "000001")], directory: "chunks") {
        for offset in stride(from: 8, to: min(bytes.count, 4096), by: 3) {
            if let chunk = try? segments.chunk(UInt64(offset)) {
                samples.removeAll(keepingCapacity: true)
                XORChunk.decode(chunk, into: &samples)
            }
        }
    }
    if let tombstones = try? Tombstones.decode(data, path: "tombstones") {
        precondition(tombstones.count <= bytes.count)
    }
    samples.removeAll(keepingCapacity: true)
    XORChunk.decode(bytes, into: &samples)
    precondition(samples.count <= 65_536)
}

#if FUZZING
    @_cdecl("fuzz_block_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        runFuzzer(argc, argv, fuzzOne)
    }
#else
    /// `fuzz-block seeds DIR` writes a small block's index and chunk segment as seeds;
    /// `fuzz-block FILE…` replays inputs.
    @main
    struct FuzzReplay {
        static func main() throws {
            try replay(
                seeds: { folder in
                    let dir = NSTemporaryDirectory() + "fuzz-block-" + UUID().uuidString
                    defer { try? FileManager.default.removeItem(atPath: dir) }
                    let head = Head()
                    _ = try head.commit { b in
                        for t in 0..<300 {
                            for i in 0..<4 {
                                _ = b.append(["__name__": "a", "b": "b\(i)", "i": "\(i)"], Sample(timestamp: Int64(t) * 15_000, value: Double(t * i) / 3))
                            }
                        }
                    }
                    let db = try DB(directory: dir, head: head)
                    try db.persist(before: 7_200_000)
                    guard let block = db.blocks.first else { return 0 }
                    try Data(contentsOf: URL(fileURLWithPath: block.directory + "/index")).write(to: folder.appendingPathComponent("seed-index"))
                    try Data(contentsOf: URL(fileURLWithPath: block.directory + "/chunks/000001")).write(to: folder.appendingPathComponent("seed-chunks"))
                    return 2
                }, fuzzOne)
        }
    }
#endif
