import CIsal
import CZlib
import Synchronization

/// Compresses an HTTP answer (gzip framing) for clients that send `Accept-Encoding: gzip`:
/// JSON of a range query shrinks three- to tenfold.
///
/// Why Intel's ISA-L and not zlib: a 9 MB range answer took zlib 95 ms at its fastest level
/// and ISA-L 27 ms at level 1, a little smaller too; for large answers compression had become
/// most of a dashboard refresh. (zlib still decompresses: `Gunzip`.)
public enum Gzip {
    /// The gzip form of `input`, or nil when compression fails (the caller then sends the body
    /// as it is).
    public static func compress(_ input: [UInt8]) -> [UInt8]? {
        let stream = GzipStream()
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 3 + 64)
        guard stream.append(input, to: &out), stream.finish(to: &out) else { return nil }
        return out
    }
}

/// Where compressed bytes are written: an array, or a socket's buffer (so that an answer's
/// bytes are not copied once more on their way out).
public protocol DeflateOutput {
    mutating func appendDeflated(_ bytes: UnsafeRawBufferPointer)
    /// Appends `count` bytes that `fill` writes at the pointer it is given (a part's pieces,
    /// copied in one call rather than one call each).
    mutating func appendDeflated(count: Int, _ fill: (UnsafeMutableRawPointer) -> Void)
}

extension Array: DeflateOutput where Element == UInt8 {
    public mutating func appendDeflated(_ bytes: UnsafeRawBufferPointer) { append(contentsOf: bytes) }

    public mutating func appendDeflated(count: Int, _ fill: (UnsafeMutableRawPointer) -> Void) {
        let old = self.count
        append(contentsOf: repeatElement(0, count: count))
        withUnsafeMutableBytes { all in
            guard let base = all.baseAddress else { return }
            fill(base + old)
        }
    }
}

/// Deflate bytes made elsewhere with the CRC-32 and length of what they decompress to, and
/// zlib's operator for appending that CRC to another (`crc32_combine_gen`: made once, it makes
/// combining a multiplication).
protocol SplicedDeflate {
    var crc: UInt32 { get }
    var length: Int { get }
    var crcShift: UInt { get }
}

extension SplicedDeflate {
    /// `crc` and `length` (of what came before) followed by this part's.
    func follow(_ crc: inout UInt32, _ length: inout Int) {
        crc = UInt32(truncatingIfNeeded: crc32_combine_op(UInt(crc), UInt(self.crc), crcShift))
        length &+= self.length
    }
}

/// Deflate bytes made earlier, to be spliced into a ``GzipStream``.
public enum Precompressed: Sendable {
    case fragment(DeflateFragment)
    case pieces(DeflatePieces)
}

/// Gzip written piece by piece, for an answer sent while it is being written: each
/// ``append(_:to:)`` adds what is ready (often little until a block fills), ``finish(to:)`` the
/// rest and the trailer.
///
/// Parts compressed earlier (``DeflateFragment``) can be put in between: the stream is ended
/// at a byte boundary with its history cleared (a full flush), the fragment's bytes follow as
/// they are, and the CRC of the whole is combined from the parts'. The stream is raw deflate
/// with the gzip header and trailer written here, because ISA-L's own trailer would only cover
/// what it compressed itself.
public final class GzipStream {
    private var workspace: GzipWorkspace?
    private var crc: UInt32 = 0
    private var length = 0
    private var headerWritten = false
    private var rawSinceFlush = false

    public init() {
        let workspace = GzipWorkspace.take()
        workspace.start()
        self.workspace = workspace
    }

    deinit { workspace.map(GzipWorkspace.give) }

    /// Compresses `input` after what came before; what is ready is appended to `output`.
    /// False when compression failed (the stream is then unusable).
    public func append(_ input: [UInt8], to output: inout some DeflateOutput) -> Bool {
        writeHeader(&output)
        guard !input.isEmpty else { return workspace != nil }
        rawSinceFlush = true
        return deflateAll(input, flush: NO_FLUSH, last: false, into: &output)
    }

    /// `fragment` after what was appended so far. (Each fragment after compressed bytes ends
    /// a deflate block, and each block builds its Huffman tables: ~6 µs. This stream keeps
    /// level 1's dynamic code, which compresses JSON about a quarter better than level 0's
    /// fixed one; answers of many series put their small pieces in fragments coded with the
    /// fixed one instead, ``FragmentBuilder``.)
    public func append(_ fragment: DeflateFragment, to output: inout some DeflateOutput) -> Bool {
        guard endRaw(&output) else { return false }
        fragment.bytes.withUnsafeBytes { output.appendDeflated($0) }
        fragment.follow(&crc, &length)
        return true
    }

    /// `pieces` after what was appended so far, each piece's bytes copied straight to `output`.
    public func append(_ pieces: DeflatePieces, to output: inout some DeflateOutput) -> Bool {
        guard endRaw(&output) else { return false }
        output.appendDeflated(count: pieces.byteCount) { pieces.copyBytes(to: $0) }
        pieces.follow(&crc, &length)
        return true
    }

    /// `part` after what was appended so far.
    public func append(_ part: Precompressed, to output: inout some DeflateOutput) -> Bool {
        switch part {
        case .fragment(let fragment): return append(fragment, to: &output)
        case .pieces(let pieces): return append(pieces, to: &output)
        }
    }

    /// Before bytes compressed elsewhere: the header, and the end of what was compressed here
    /// since the last of them (fragments in a row go out back to back). False when the stream
    /// failed.
    private func endRaw(_ output: inout some DeflateOutput) -> Bool {
        writeHeader(&output)
        guard workspace != nil else { return false }
        if rawSinceFlush {
            guard deflateAll([], flush: FULL_FLUSH, last: false, into: &output) else { return false }
            rawSinceFlush = false
        }
        return true
    }

    /// Ends the stream: the last compressed bytes and the trailer.
    public func finish(to output: inout some DeflateOutput) -> Bool {
        writeHeader(&output)
        guard deflateAll([], flush: NO_FLUSH, last: true, into: &output) else { return false }
        // The trailer: CRC-32 and length modulo 2^32, little-endian.
        var trailer: [UInt8] = []
        for value in [crc, UInt32(truncatingIfNeeded: length)] {
            for k in 0..<4 { trailer.append(UInt8(truncatingIfNeeded: value >> (8 * UInt32(k)))) }
        }
        trailer.withUnsafeBytes { output.appendDeflated($0) }
        return true
    }

    /// The gzip header before the first bytes: deflate, no name, no time, unknown OS.
    private static let header: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]

    private func writeHeader(_ output: inout some DeflateOutput) {
        guard !headerWritten else { return }
        headerWritten = true
        Self.header.withUnsafeBytes { output.appendDeflated($0) }
    }

    private func deflateAll(_ input: [UInt8], flush: Int32, last: Bool, into output: inout some DeflateOutput) -> Bool {
        guard let workspace else { return false }
        length &+= input.count
        let ok = input.withUnsafeBufferPointer { workspace.deflate($0, flush: flush, last: last, into: &output, crc: &crc) }
        if last || !ok {
            // Done with the stream: its memory serves the next answer.
            GzipWorkspace.give(workspace)
            self.workspace = nil
        }
        return ok
    }
}

/// Bytes compressed once and sent in many answers (a results cache's settled steps): raw
/// deflate ended by a full flush, so it starts and ends on a byte boundary and refers to
/// nothing before it; any number of them can follow each other inside a ``GzipStream``.
public struct DeflateFragment: Sendable, SplicedDeflate {
    public let bytes: [UInt8]
    /// CRC-32 and length of what it decompresses to.
    public let crc: UInt32
    public let length: Int
    /// As ``SplicedDeflate``'s.
    let crcShift: UInt

    /// `input` compressed as a fragment (with deflate's fixed Huffman code when `fixedCode`:
    /// for a few hundred bytes, a dynamic code's tables would be most of it), or nil when
    /// compression fails.
    public init?(_ input: ArraySlice<UInt8>, fixedCode: Bool = false) {
        guard let made = input.withUnsafeBufferPointer({ DeflateFragment($0, fixedCode: fixedCode) }) else { return nil }
        self = made
    }

    /// `input` compressed as a fragment (read in place: a results cache's steps), or nil when
    /// compression fails.
    public init?(_ input: UnsafeBufferPointer<UInt8>, fixedCode: Bool = false) {
        let workspace = GzipWorkspace.take()
        defer { GzipWorkspace.give(workspace) }
        if fixedCode {
            guard workspace.startFixed() else { return nil }
        } else {
            workspace.start()
        }
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 3 + 64)
        var crc: UInt32 = 0
        guard workspace.deflate(input, flush: FULL_FLUSH, last: false, into: &output, crc: &crc) else { return nil }
        self.init(bytes: output, crc: crc, length: input.count)
    }

    init(bytes: [UInt8], crc: UInt32, length: Int) {
        self.bytes = bytes
        self.crc = crc
        self.length = length
        crcShift = crc32_combine_gen(length)
    }

    /// `fragments` one after another as one fragment: their bytes joined (each ends on a byte
    /// boundary and refers to nothing before it, so the join is deflate as it stands) and their
    /// CRCs combined (from the empty text's, as ``FragmentBuilder`` does). Nil when there are
    /// none.
    public static func joined(_ fragments: [DeflateFragment]) -> DeflateFragment? {
        guard !fragments.isEmpty else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(fragments.reduce(0) { $0 + $1.bytes.count })
        var crc: UInt32 = 0
        var length = 0
        for fragment in fragments {
            bytes.append(contentsOf: fragment.bytes)
            fragment.follow(&crc, &length)
        }
        return DeflateFragment(bytes: bytes, crc: crc, length: length)
    }
}

/// Deflate bytes in pieces, as ``FragmentBuilder`` put them together: what it compressed or
/// stored itself, and the larger fragments made earlier, shared rather than copied. Like a
/// ``DeflateFragment`` it starts and ends on a byte boundary and refers to nothing before it;
/// a ``GzipStream`` copies its pieces straight to the answer.
///
/// Why not one array: a refresh of a large panel copied its kept runs into its parts, and the
/// parts into the answer (3 MB twice for 940 series; at 100k series the copies were the
/// largest item of a refresh's profile).
public struct DeflatePieces: Sendable, SplicedDeflate {
    enum Piece: Sendable {
        /// Bytes of ``own``.
        case own(Range<Int>)
        case shared([UInt8])
    }

    let own: [UInt8]
    let pieces: [Piece]
    /// Compressed bytes in all.
    public let byteCount: Int
    /// CRC-32 and length of what it decompresses to.
    public let crc: UInt32
    public let length: Int
    /// As ``SplicedDeflate``'s.
    let crcShift: UInt

    /// Copies the pieces' bytes, in order, to `destination` (``byteCount`` of them).
    func copyBytes(to destination: UnsafeMutableRawPointer) {
        var at = destination
        forEachPiece { piece in
            guard let from = piece.baseAddress else { return }
            at.copyMemory(from: from, byteCount: piece.count)
            at += piece.count
        }
    }

    /// Calls `body` with each piece's bytes, in order.
    func forEachPiece(_ body: (UnsafeRawBufferPointer) -> Void) {
        own.withUnsafeBytes { own in
            for piece in pieces {
                switch piece {
                case .own(let range): body(UnsafeRawBufferPointer(rebasing: own[range]))
                case .shared(let bytes): bytes.withUnsafeBytes(body)
                }
            }
        }
    }

    /// The compressed bytes, joined into one array (for tests).
    public var joinedBytes: [UInt8] {
        var out: [UInt8] = []
        forEachPiece { out.append(contentsOf: $0) }
        return out
    }

    /// Pieces shared with fragments made earlier (for tests).
    public var sharedCount: Int {
        pieces.reduce(0) { n, piece in
            if case .shared = piece { return n + 1 }
            return n
        }
    }
}

/// One ``DeflatePieces`` made of plain bytes and fragments in order: a part of an answer put
/// together on a helper thread (its plain bytes compressed there, each run of them ended by a
/// full flush; the fragments between them copied when small, else shared) and spliced into the
/// answer as one. The thread that writes the answer then only copies bytes.
///
/// Pieces under ``storedPiece`` bytes (the steps at a window's edges, between runs kept
/// compressed) go as stored blocks: copied, not compressed. Each call into ISA-L to compress
/// one, however small, took ~3 µs, and a refresh of 940 series made one or two per series (a
/// sixth of its CPU); stored, they cost 5 bytes of header and what they would have saved
/// (4 % more bytes for that refresh). Pieces under ``smallPiece`` bytes are coded with
/// deflate's fixed Huffman code: the dynamic code of ISA-L's level 1 builds its tables at each
/// block's end (~6–10 µs; two per series of a panel sent as runs). Measured on a 6 h refresh
/// of 1,176 series: ~15 % less CPU, 12 % more bytes (4.27 against 3.82 MB) than with dynamic
/// codes throughout.
public final class FragmentBuilder {
    /// Pieces shorter than this are sent stored.
    public static let storedPiece = 512

    /// Pieces shorter than this (and not stored) are coded with the fixed code.
    public static let smallPiece = 4096

    /// Fragments this long or longer are shared, not copied: under it, copying the bytes costs
    /// less than a piece of their own (a reference counted, and the copy into the answer done
    /// in one more call). Kept openings and edge runs are ~60–150 bytes, short runs 300–500,
    /// long runs 1–4 KB. (256 and 2,048 measured alike on a 1 h refresh of 940 gauges, whose
    /// runs are short.)
    public static let sharedFragment = 256

    private var dynamic: GzipWorkspace?
    private var fixed: GzipWorkspace?
    private var failed = false
    private var output: [UInt8] = []
    /// The pieces before ``output``'s bytes from `ownStart` on.
    private var pieces: [DeflatePieces.Piece] = []
    private var ownStart = 0
    private var sharedBytes = 0
    private var crc: UInt32 = 0
    private var length = 0

    /// `capacity`: the compressed bytes expected.
    public init(capacity: Int) {
        output.reserveCapacity(capacity)
    }

    deinit {
        dynamic.map(GzipWorkspace.give)
        fixed.map(GzipWorkspace.give)
    }

    /// `bytes` compressed after what came before, ending on a byte boundary with the history
    /// cleared (so a fragment may follow). False when compression failed.
    @discardableResult
    public func append(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard !failed else { return false }
        guard !bytes.isEmpty else { return true }
        if bytes.count < Self.storedPiece {
            appendStored(bytes)
            return true
        }
        length &+= bytes.count
        guard let workspace = bytes.count < Self.smallPiece ? fixedWorkspace() : dynamicWorkspace(),
            bytes.withUnsafeBufferPointer({ workspace.deflate($0, flush: FULL_FLUSH, last: false, into: &output, crc: &crc) })
        else {
            failed = true
            return false
        }
        return true
    }

    /// `bytes` (under 64 KB) as a stored block: a header byte (not final, type 0, the rest of
    /// the byte padding, as the stream is on a byte boundary), the length and its complement,
    /// then the bytes.
    private func appendStored(_ bytes: ArraySlice<UInt8>) {
        length &+= bytes.count
        bytes.withUnsafeBufferPointer { crc = crc32_gzip_refl(crc, $0.baseAddress, UInt64($0.count)) }
        let n = UInt16(bytes.count)
        output.append(0)
        output.append(UInt8(truncatingIfNeeded: n))
        output.append(UInt8(truncatingIfNeeded: n >> 8))
        output.append(UInt8(truncatingIfNeeded: ~n))
        output.append(UInt8(truncatingIfNeeded: ~n >> 8))
        output.append(contentsOf: bytes)
    }

    private func fixedWorkspace() -> GzipWorkspace? {
        if let fixed { return fixed }
        let workspace = GzipWorkspace.take()
        guard workspace.startFixed() else {
            GzipWorkspace.give(workspace)
            return nil
        }
        fixed = workspace
        return workspace
    }

    private func dynamicWorkspace() -> GzipWorkspace {
        if let dynamic { return dynamic }
        let workspace = GzipWorkspace.take()
        workspace.start()
        dynamic = workspace
        return workspace
    }

    /// `fragment` after what came before: copied when short, else shared.
    public func append(_ fragment: DeflateFragment) {
        guard !failed else { return }
        if fragment.bytes.count < Self.sharedFragment {
            output.append(contentsOf: fragment.bytes)
        } else {
            endOwn()
            pieces.append(.shared(fragment.bytes))
            sharedBytes += fragment.bytes.count
        }
        fragment.follow(&crc, &length)
    }

    /// `part` after what came before (the pieces of one are copied: parts are not nested on
    /// any hot path).
    public func append(_ part: Precompressed) {
        switch part {
        case .fragment(let fragment): append(fragment)
        case .pieces(let pieces):
            guard !failed else { return }
            pieces.forEachPiece { output.append(contentsOf: $0) }
            pieces.follow(&crc, &length)
        }
    }

    /// The bytes written since the last shared fragment become a piece.
    private func endOwn() {
        guard output.count > ownStart else { return }
        pieces.append(.own(ownStart..<output.count))
        ownStart = output.count
    }

    /// The whole, in pieces; nil when compression failed or nothing was appended.
    public func finish() -> DeflatePieces? {
        guard !failed, length > 0 else { return nil }
        endOwn()
        return DeflatePieces(own: output, pieces: pieces, byteCount: output.count + sharedBytes, crc: crc, length: length, crcShift: crc32_combine_gen(length))
    }
}

/// The memory one gzip stream works in: ISA-L's stream state (80 KB), its level-1 buffer
/// (280 KB) and an output block. Above glibc's mmap threshold, allocating these for each answer
/// cost an mmap, an munmap and the page faults in between; a few are kept for reuse instead
/// (about as many as answers are compressed at once).
final class GzipWorkspace: @unchecked Sendable {
    static let levelBufferSize = tributary_isal_level1_buffer_size()
    static let kept = 8
    private static let pool = Mutex<[GzipWorkspace]>([])

    let stream: UnsafeMutablePointer<isal_zstream>
    let levelBuffer: UnsafeMutablePointer<UInt8>
    let block: UnsafeMutableBufferPointer<UInt8>

    private init() {
        // Zeroed in place: the 80 KB struct is not built on a thread's stack first.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<isal_zstream>.size, alignment: MemoryLayout<isal_zstream>.alignment)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<isal_zstream>.size)
        stream = raw.bindMemory(to: isal_zstream.self, capacity: 1)
        levelBuffer = .allocate(capacity: Int(Self.levelBufferSize))
        block = .allocate(capacity: 64 * 1024)
    }

    deinit {
        stream.deallocate()
        levelBuffer.deallocate()
        block.deallocate()
    }

    /// Readies the stream for new output: raw deflate at level 1.
    func start() {
        isal_deflate_init(stream)
        stream.pointee.level = 1
        stream.pointee.level_buf = levelBuffer
        stream.pointee.level_buf_size = Self.levelBufferSize
        stream.pointee.gzip_flag = UInt16(IGZIP_DEFLATE)
    }

    /// Readies the stream for new output: raw deflate at level 0 with the fixed Huffman code
    /// (no tables built or sent). False when ISA-L refuses the code.
    func startFixed() -> Bool {
        isal_deflate_init(stream)
        stream.pointee.level = 0
        stream.pointee.gzip_flag = UInt16(IGZIP_DEFLATE)
        return isal_deflate_set_hufftables(stream, nil, IGZIP_HUFFTABLE_STATIC) == COMP_OK
    }

    /// Compresses `input` into `output`: with `flush`, up to a byte boundary; with `last`, to
    /// the end of the deflate stream; `crc` (gzip's CRC-32 of what came before) taken on over
    /// `input`. False when ISA-L reports an error.
    func deflate(_ input: UnsafeBufferPointer<UInt8>, flush: Int32, last: Bool, into output: inout some DeflateOutput, crc: inout UInt32) -> Bool {
        crc = crc32_gzip_refl(crc, input.baseAddress, UInt64(input.count))
        // The input is read only during this call.
        defer { stream.pointee.next_in = nil }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
        stream.pointee.avail_in = UInt32(input.count)
        stream.pointee.end_of_stream = last ? 1 : 0
        stream.pointee.flush = UInt16(flush)
        while true {
            stream.pointee.next_out = block.baseAddress
            stream.pointee.avail_out = UInt32(block.count)
            guard isal_deflate(stream) == COMP_OK else { return false }
            let produced = block.count - Int(stream.pointee.avail_out)
            output.appendDeflated(UnsafeRawBufferPointer(start: block.baseAddress, count: produced))
            if last {
                if tributary_isal_finished(stream) != 0 { return true }
            } else if stream.pointee.avail_in == 0, produced < block.count {
                // All input taken, and flushed if asked (ISA-L keeps the rest in its buffers).
                return true
            }
        }
    }

    static func take() -> GzipWorkspace {
        pool.withLock { $0.popLast() } ?? GzipWorkspace()
    }

    static func give(_ workspace: GzipWorkspace) {
        pool.withLock { if $0.count < kept { $0.append(workspace) } }
    }
}
