import Foundation

/// The `chunks/` directory of a block: segment files `000001`, `000002`, … of at most 512 MiB,
/// each `magic 0x85BD40DD | version 1 | 3 zero bytes`, then chunk records
/// `uvarint length | encoding (1 = XOR) | data | CRC-32C of encoding and data`. A chunk's
/// reference is `segment index << 32 | offset` (index 0 is file `000001`).
enum ChunkSegments {
    static let magic: UInt32 = 0x85BD_40DD
    static let headerSize = 8
    static let maxSegmentSize = 512 << 20
    static let xorEncoding: UInt8 = 1

    static func name(_ index: Int) -> String {
        let digits = String(index + 1)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }
}

/// Writes chunk records into segment files, returning each chunk's reference.
final class ChunkSegmentWriter {
    let directory: String
    private var segment = -1
    private var buffer = EncodeBuffer()
    private var written = 0  // bytes of the current segment already on disk
    private var handle: FileHandle?

    init(directory: String) throws(BlockError) {
        self.directory = directory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw BlockError("\(directory): cannot create: \(error)")
        }
    }

    /// Appends an XOR chunk's bytes; returns its reference.
    func append(xor data: [UInt8]) throws(BlockError) -> UInt64 {
        let recordSize = 10 + 1 + data.count + 4
        if segment < 0 || written + buffer.bytes.count + recordSize > ChunkSegments.maxSegmentSize {
            try startSegment()
        }
        let offset = written + buffer.bytes.count
        buffer.uvarint(UInt64(data.count))
        let start = buffer.bytes.count
        buffer.bytes.append(ChunkSegments.xorEncoding)
        buffer.bytes.append(contentsOf: data)
        buffer.appendCRC(of: start..<buffer.bytes.count)
        if buffer.bytes.count >= 1 << 20 { try flush() }
        return UInt64(segment) << 32 | UInt64(offset)
    }

    /// Writes what is buffered and fsyncs the last segment.
    func close() throws(BlockError) {
        try flush()
        do {
            try handle?.synchronize()
            try handle?.close()
        } catch {
            throw BlockError("\(directory)/\(ChunkSegments.name(segment)): cannot sync: \(error)")
        }
        handle = nil
    }

    private func startSegment() throws(BlockError) {
        try close()
        segment += 1
        let path = directory + "/" + ChunkSegments.name(segment)
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw BlockError("\(path): cannot create")
        }
        handle = h
        written = 0
        buffer.be32(ChunkSegments.magic)
        buffer.bytes.append(contentsOf: [1, 0, 0, 0])
    }

    private func flush() throws(BlockError) {
        guard let handle, !buffer.bytes.isEmpty else { return }
        do {
            try handle.write(contentsOf: buffer.bytes)
        } catch {
            throw BlockError("\(directory)/\(ChunkSegments.name(segment)): cannot write: \(error)")
        }
        written += buffer.bytes.count
        buffer.bytes.removeAll(keepingCapacity: true)
    }
}

/// Reads chunks from a block's memory-mapped segment files.
package final class ChunkSegmentReader: @unchecked Sendable {
    let directory: String
    let segments: [MappedFile]

    /// Segments already opened (fuzzing, tests); their headers are checked.
    package init(segments: [MappedFile], directory: String) throws(BlockError) {
        self.directory = directory
        for file in segments { try Self.checkHeader(file) }
        self.segments = segments
    }

    static func checkHeader(_ file: MappedFile) throws(BlockError) {
        var d = DecodeBuffer(file.bytes, file: file.path)
        guard try d.be32("segment magic") == ChunkSegments.magic else { throw d.error("not a chunk segment (bad magic)", at: 0) }
        guard try d.byte("segment version") == 1 else { throw d.error("unknown chunk segment version", at: 4) }
    }

    init(directory: String) throws(BlockError) {
        self.directory = directory
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { Int($0) != nil }.sorted()
        } catch {
            throw BlockError("\(directory): cannot list: \(error)")
        }
        var segments: [MappedFile] = []
        for (i, name) in names.enumerated() {
            guard name == ChunkSegments.name(i) else { throw BlockError("\(directory): segment \(ChunkSegments.name(i)) missing (found \(name))") }
            let file = try MappedFile(path: directory + "/" + name)
            try Self.checkHeader(file)
            segments.append(file)
        }
        self.segments = segments
    }

    /// Bytes of all segments.
    var size: Int { segments.reduce(0) { $0 + $1.bytes.count } }

    /// The XOR chunk at `ref`, checksum verified.
    package func chunk(_ ref: UInt64) throws(BlockError) -> [UInt8] {
        Array(bytes(of: try checkedSpan(ref)))
    }

    /// Where the XOR chunk at `ref` lies in its segment, its checksum verified: what a query
    /// reads in place later (``bytes(of:)``) is known whole.
    func checkedSpan(_ ref: UInt64) throws(BlockError) -> ChunkSpan {
        let index = Int(ref >> 32), offset = Int(ref & 0xFFFF_FFFF)
        guard index < segments.count else { throw BlockError("\(directory): chunk reference \(ref) names segment \(index + 1) of \(segments.count)") }
        let file = segments[index]
        guard offset >= ChunkSegments.headerSize else { throw BlockError("\(file.path): chunk reference \(ref) points into the header") }
        var d = DecodeBuffer(file.bytes, file: file.path, from: offset)
        let length = try d.uvarint("chunk length")
        guard length < UInt64(d.remaining) else { throw d.error("chunk of \(length) bytes runs past the end") }
        let start = d.position
        let encoding = try d.byte("chunk encoding")
        guard encoding == ChunkSegments.xorEncoding else {
            throw d.error("chunk encoding \(encoding) is not XOR (native histograms are not stored yet)", at: start)
        }
        try d.skip(Int(length), "chunk data")
        try d.checkCRC(of: start..<d.position, "chunk")
        return ChunkSpan(segment: index, offset: start + 1, length: Int(length))
    }

    /// The bytes of a chunk ``checkedSpan(_:)`` found, in the mapping (valid while this
    /// reader lives).
    func bytes(of span: ChunkSpan) -> UnsafeBufferPointer<UInt8> {
        let bytes = UnsafeRawBufferPointer(rebasing: segments[span.segment].bytes[span.offset..<(span.offset + span.length)])
        return UnsafeBufferPointer(start: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), count: bytes.count)
    }
}

/// A chunk's data (after its encoding byte) in a segment of ``ChunkSegmentReader``.
struct ChunkSpan: Sendable {
    let segment: Int
    let offset: Int
    let length: Int
}
