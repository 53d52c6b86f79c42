import TributaryModel

/// Reads a block's memory-mapped `index` (format v2). Opening reads the TOC, the symbols and the
/// postings offset table; postings lists and series are read from the mapping when asked for.
/// Everything read is bounds- and checksum-checked: a damaged index fails with the file and the
/// offset, never with a crash.
package final class IndexReader: @unchecked Sendable {
    let file: MappedFile
    let symbols: [String]
    /// Label name → (value, offset of its postings list), values sorted.
    package let postingsTable: [String: [(value: String, offset: Int)]]
    let allPostingsOffset: Int?

    convenience init(path: String) throws(BlockError) {
        try self.init(file: try MappedFile(path: path))
    }

    package init(file: MappedFile) throws(BlockError) {
        self.file = file
        let path = file.path
        let bytes = file.bytes
        var d = DecodeBuffer(bytes, file: path)
        guard try d.be32("index magic") == IndexWriter.magic else { throw d.error("not an index (bad magic)", at: 0) }
        let version = try d.byte("index version")
        guard version == 2 else { throw d.error("index format v\(version) is not supported (v2 is what Prometheus 2.x writes)", at: 4) }
        guard bytes.count >= 5 + 52 else { throw d.error("too short for a table of contents") }
        var toc = DecodeBuffer(bytes, file: path, from: bytes.count - 52)
        var refs: [Int] = []
        for name in ["symbols", "series", "label indices", "label offset table", "postings", "postings offset table"] {
            let ref = try toc.be64("TOC \(name)")
            guard ref < UInt64(bytes.count) else { throw toc.error("TOC: \(name) at \(ref) is past the end of the file") }
            refs.append(Int(ref))
        }
        try toc.checkCRC(of: (bytes.count - 52)..<(bytes.count - 4), "TOC")

        // Symbols.
        var symbols: [String] = []
        if refs[0] != 0 {
            var s = try Self.section(bytes, path, at: refs[0], "symbols")
            let count = try s.be32("symbol count")
            guard Int(count) <= s.remaining else { throw s.error("symbol count \(count) larger than the section") }
            symbols.reserveCapacity(Int(count))
            for _ in 0..<count { symbols.append(try s.uvarintString("symbol")) }
        }
        self.symbols = symbols

        // Postings offset table.
        var table: [String: [(value: String, offset: Int)]] = [:]
        var allOffset: Int?
        if refs[5] != 0 {
            var t = try Self.section(bytes, path, at: refs[5], "postings offset table")
            let count = try t.be32("postings offset count")
            for _ in 0..<count {
                let keys = try t.uvarint("postings offset key count")
                guard keys == 2 else { throw t.error("postings offset entry with \(keys) keys, 2 expected") }
                let name = try t.uvarintString("label name")
                let value = try t.uvarintString("label value")
                let offset = try t.uvarint("postings offset")
                guard offset < UInt64(bytes.count) else { throw t.error("postings offset \(offset) past the end") }
                if name.isEmpty && value.isEmpty {
                    allOffset = Int(offset)
                } else {
                    table[name, default: []].append((value, Int(offset)))
                }
            }
        }
        postingsTable = table
        allPostingsOffset = allOffset
    }

    /// A section `len u32 | body | crc32c(body)` at `at`, checked, positioned at its body.
    static func section(_ bytes: UnsafeRawBufferPointer, _ path: String, at: Int, _ what: String) throws(BlockError) -> DecodeBuffer {
        var d = DecodeBuffer(bytes, file: path, from: at)
        let length = Int(try d.be32("\(what) length"))
        let start = d.position
        try d.need(length + 4, what)
        var crc = DecodeBuffer(bytes, file: path, from: start + length)
        try crc.checkCRC(of: start..<(start + length), what)
        return DecodeBuffer(bytes, file: path, from: start, to: start + length)
    }

    func symbol(_ ref: UInt64, _ d: DecodeBuffer) throws(BlockError) -> String {
        guard ref < UInt64(symbols.count) else { throw d.error("symbol reference \(ref) of \(symbols.count)") }
        return symbols[Int(ref)]
    }

    /// The postings list at `offset`.
    package func postings(at offset: Int) throws(BlockError) -> [UInt32] {
        var d = try Self.section(file.bytes, file.path, at: offset, "postings list")
        let count = try d.be32("postings count")
        try d.need(Int(count) * 4, "postings list")
        var out: [UInt32] = []
        out.reserveCapacity(Int(count))
        for _ in 0..<count { out.append(try d.be32("series reference")) }
        return out
    }

    /// Series with `name` = `value`.
    func postingsList(_ name: String, _ value: String) throws(BlockError) -> [UInt32] {
        guard let values = postingsTable[name] else { return [] }
        var low = 0, high = values.count
        while low < high {
            let mid = (low + high) / 2
            if values[mid].value.utf8.lexicographicallyPrecedes(value.utf8) { low = mid + 1 } else { high = mid }
        }
        guard low < values.count, values[low].value == value else { return [] }
        return try postings(at: values[low].offset)
    }

    /// Every series in the block.
    package func allPostingsList() throws(BlockError) -> [UInt32] {
        guard let allPostingsOffset else { return [] }
        return try postings(at: allPostingsOffset)
    }

    /// The labels and chunk metas of the series at `ref`.
    package func series(_ ref: UInt32) throws(BlockError) -> (labels: Labels, chunks: [ChunkMeta]) {
        var d = DecodeBuffer(file.bytes, file: file.path, from: Int(ref) * 16)
        let length = try d.uvarint("series length")
        guard length <= UInt64(d.remaining) else { throw d.error("series \(ref) of \(length) bytes runs past the end") }
        let start = d.position
        var body = DecodeBuffer(file.bytes, file: file.path, from: start, to: start + Int(length))
        var crc = DecodeBuffer(file.bytes, file: file.path, from: start + Int(length))
        try crc.checkCRC(of: start..<(start + Int(length)), "series \(ref)")
        let labelCount = try body.uvarint("label count")
        guard labelCount <= UInt64(body.remaining) else { throw body.error("label count \(labelCount) larger than the series") }
        var pairs: [(name: String, value: String)] = []
        for _ in 0..<labelCount {
            let name = try symbol(try body.uvarint("label name"), body)
            let value = try symbol(try body.uvarint("label value"), body)
            pairs.append((name, value))
        }
        let chunkCount = try body.uvarint("chunk count")
        guard chunkCount <= UInt64(body.remaining) else { throw body.error("chunk count \(chunkCount) larger than the series") }
        var chunks: [ChunkMeta] = []
        chunks.reserveCapacity(Int(chunkCount))
        if chunkCount > 0 {
            let minTime = try body.varint("chunk min time")
            let maxTime = minTime &+ Int64(bitPattern: try body.uvarint("chunk max time"))
            var ref = try body.uvarint("chunk reference")
            chunks.append(ChunkMeta(ref: ref, minTime: minTime, maxTime: maxTime))
            var lastMax = maxTime
            for _ in 1..<chunkCount {
                let minTime = lastMax &+ Int64(bitPattern: try body.uvarint("chunk min time"))
                let maxTime = minTime &+ Int64(bitPattern: try body.uvarint("chunk max time"))
                ref = UInt64(bitPattern: Int64(bitPattern: ref) &+ (try body.varint("chunk reference")))
                chunks.append(ChunkMeta(ref: ref, minTime: minTime, maxTime: maxTime))
                lastMax = maxTime
            }
        }
        return (Labels(sortedPairs: pairs), chunks)
    }
}
