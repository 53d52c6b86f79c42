import CIsal
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
        guard var out = stream.append(input), let tail = stream.finish() else { return nil }
        out.append(contentsOf: tail)
        return out
    }
}

/// Gzip written piece by piece, for an answer sent while it is being written: each ``append(_:)``
/// returns what is ready (often little until a block fills), ``finish()`` the rest and the
/// trailer. Nil from either means compression failed.
public final class GzipStream {
    private var workspace: GzipWorkspace?

    public init() {
        let workspace = GzipWorkspace.take()
        isal_deflate_init(workspace.stream)
        workspace.stream.pointee.level = 1
        workspace.stream.pointee.level_buf = workspace.levelBuffer
        workspace.stream.pointee.level_buf_size = GzipWorkspace.levelBufferSize
        workspace.stream.pointee.gzip_flag = UInt16(IGZIP_GZIP)
        self.workspace = workspace
    }

    deinit { workspace.map(GzipWorkspace.give) }

    public func append(_ input: [UInt8]) -> [UInt8]? { deflateAll(input, last: false) }

    public func finish() -> [UInt8]? { deflateAll([], last: true) }

    private func deflateAll(_ input: [UInt8], last: Bool) -> [UInt8]? {
        guard let workspace else { return nil }
        let stream = workspace.stream
        let block = workspace.block
        var output: [UInt8] = []
        let ok: Bool = input.withUnsafeBufferPointer { inBuffer in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress)
            stream.pointee.avail_in = UInt32(inBuffer.count)
            stream.pointee.end_of_stream = last ? 1 : 0
            stream.pointee.flush = UInt16(NO_FLUSH)
            while true {
                stream.pointee.next_out = block.baseAddress
                stream.pointee.avail_out = UInt32(block.count)
                guard isal_deflate(stream) == COMP_OK else { return false }
                let produced = block.count - Int(stream.pointee.avail_out)
                output.append(contentsOf: block[0..<produced])
                if last {
                    if tributary_isal_finished(stream) != 0 { return true }
                } else if stream.pointee.avail_in == 0, produced < block.count {
                    // All input taken (ISA-L keeps what it still needs in its own buffers).
                    return true
                }
                if produced == 0, stream.pointee.avail_in == 0, !last { return true }
            }
        }
        stream.pointee.next_in = nil
        if last || !ok {
            // Done with the stream: its memory serves the next answer.
            GzipWorkspace.give(workspace)
            self.workspace = nil
        }
        return ok ? output : nil
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

    static func take() -> GzipWorkspace {
        pool.withLock { $0.popLast() } ?? GzipWorkspace()
    }

    static func give(_ workspace: GzipWorkspace) {
        pool.withLock { if $0.count < kept { $0.append(workspace) } }
    }
}
