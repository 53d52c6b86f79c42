import CPrompb
import TributaryModel

#if canImport(Glibc)
    import Glibc
#endif

/// Decodes snappy-compressed remote-write bodies (1.0 and 2.0) into a reusable ``WriteBatch``.
///
/// The decoder keeps its buffers and a protobuf-c arena between requests, so steady-state
/// decoding does not allocate. It validates every series while copying its labels and keeps
/// the valid ones even when others are refused.
///
/// Concurrency: not thread-safe; use one decoder per connection or worker. It may move
/// between threads (a pool hands it to one request at a time), hence `@unchecked Sendable`.
public final class WriteRequestDecoder: @unchecked Sendable {
    /// Which code decodes remote write 1.0.
    public enum Implementation: Sendable {
        /// The direct single-pass decoder (default; see `decodeV1Direct`).
        case direct
        /// libprotobuf-c's unpack, the reference the direct decoder is fuzzed against.
        case reference
    }

    public let limits: DecoderLimits
    public let implementation: Implementation
    /// The last decoded request; refilled by every call to ``decode(_:version:)``.
    public internal(set) var batch = WriteBatch()

    let arena: UnsafeMutablePointer<TributaryArena>
    let scratch = ScratchBuffer()
    var symbolLengths: [Int] = []

    public init(limits: DecoderLimits = .default, implementation: Implementation = .direct) {
        var limits = limits
        // Batch offsets are 32-bit; one request never needs more than 1 GiB.
        limits.maxUncompressedBytes = Swift.min(limits.maxUncompressedBytes, 1 << 30)
        limits.maxDecodedLabelBytes = Swift.min(limits.maxDecodedLabelBytes, 1 << 30)
        self.limits = limits
        self.implementation = implementation
        arena = .allocate(capacity: 1)
        // A first block of 1 MiB; the arena grows to the working size after one request.
        if tributary_arena_init(arena, 1 << 20, Int.max) != 0 {
            arena.pointee.block_size = 0
        }
    }

    deinit {
        tributary_arena_destroy(arena)
        arena.deallocate()
    }

    /// Decodes one snappy-compressed body.
    /// - Returns: the batch (also in ``batch``), with valid series and the first series error.
    /// - Throws: ``WireError`` when the body as a whole cannot be decoded.
    @discardableResult
    public func decode(_ body: UnsafeRawBufferPointer, version: RemoteWriteVersion) throws(WireError) -> WriteBatch {
        let message = try Snappy.decompress(body, into: scratch, limit: limits.maxUncompressedBytes)
        return try decodeUncompressed(message, version: version)
    }

    /// Decodes one body given as an array.
    @discardableResult
    public func decode(_ body: [UInt8], version: RemoteWriteVersion) throws(WireError) -> WriteBatch {
        let result = body.withUnsafeBytes { raw in
            Result { () throws(WireError) in try decode(raw, version: version) }
        }
        return try result.get()
    }

    /// Decodes an uncompressed protobuf message.
    @discardableResult
    public func decodeUncompressed(_ message: UnsafeRawBufferPointer, version: RemoteWriteVersion) throws(WireError) -> WriteBatch {
        batch.reset()
        guard message.count <= limits.maxUncompressedBytes else {
            throw WireError(.bodyTooLarge, "message of \(message.count) bytes is over the limit of \(limits.maxUncompressedBytes)")
        }
        let seriesField: UInt64 = version == .v1 ? 1 : 5
        let seriesCount: Int
        do {
            seriesCount = try ProtoScanner.countField(seriesField, in: message)
        } catch {
            throw WireError(.protobufMalformed, "cannot decode protobuf: malformed field at byte \(error.offset) (message of \(message.count) bytes)")
        }
        guard seriesCount <= limits.maxSeriesPerRequest else {
            throw WireError(.tooManySeries, "request holds \(seriesCount) series, over the limit of \(limits.maxSeriesPerRequest)")
        }
        tributary_arena_reset(arena)
        arena.pointee.limit = Swift.max(1 << 20, message.count.multipliedReportingOverflow(by: limits.arenaBytesPerMessageByte).partialValue)
        switch version {
        case .v1 where implementation == .direct: try decodeV1Direct(message)
        case .v1: try decodeV1(message)
        case .v2: try decodeV2(message)
        }
        return batch
    }

    /// Bytes the arena needed for the largest request so far (for tuning and benchmarks).
    public var arenaHighWater: Int { arena.pointee.high_water }

    func unpackFailure(_ what: String, size: Int) -> WireError {
        if arena.pointee.exhausted != 0 {
            return WireError(.bodyTooLarge, "cannot decode \(what): unpacking needs more than \(arena.pointee.limit) bytes")
        }
        return WireError(.protobufMalformed, "cannot decode \(what): malformed or truncated protobuf (message of \(size) bytes)")
    }

    /// Records a refused series: counts it, and describes it if it is the first.
    func reject(index: Int, samples: Int, histograms: Int, violation: LabelViolation, labels: () -> String) {
        batch.rejectedSeries += 1
        batch.rejectedSamples += samples
        batch.rejectedHistograms += histograms
        if batch.firstError == nil {
            batch.firstError = WireError(
                .invalidSeries,
                "cannot decode timeseries \(index) \(labels()): \(violation)",
                seriesIndex: index,
                labelName: violation.labelName
            )
        }
    }

    func reject(index: Int, samples: Int, histograms: Int, message: String, labels: () -> String) {
        batch.rejectedSeries += 1
        batch.rejectedSamples += samples
        batch.rejectedHistograms += histograms
        if batch.firstError == nil {
            batch.firstError = WireError(.invalidSeries, "cannot decode timeseries \(index) \(labels()): \(message)", seriesIndex: index)
        }
    }
}

extension WriteBatch {
    /// Counts the histograms of a valid series and notes the first malformed one.
    mutating func noteHistogram(_ h: NativeHistogram, seriesIndex: Int, histogramIndex: Int) {
        histogramCount += 1
        guard let problem = h.problem else { return }
        malformedHistograms += 1
        if firstMalformedHistogram == nil {
            firstMalformedHistogram = NativeHistogramProblem(seriesIndex: seriesIndex, histogramIndex: histogramIndex, timestamp: h.timestamp, problem: problem)
        }
    }

    /// Counts an exemplar refused for over-long labels.
    mutating func noteDroppedExemplar(seriesIndex: Int) {
        droppedExemplars += 1
        if firstDroppedExemplarSeries == nil { firstDroppedExemplarSeries = seriesIndex }
    }
}

/// Borrowed bytes of a NUL-terminated C string from protobuf-c.
@inline(__always)
func cBytes(_ pointer: UnsafePointer<CChar>?) -> UnsafeRawBufferPointer {
    guard let pointer else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    return UnsafeRawBufferPointer(start: pointer, count: strlen(pointer))
}

/// `{a="b", …}` from raw name/value pairs as sent (any order), for error messages.
func describePairs(_ pairs: [(UnsafeRawBufferPointer, UnsafeRawBufferPointer)]) -> String {
    var bytes: [UInt8] = []
    for (name, value) in pairs { FlatLabels.append(name: name, value: value, to: &bytes) }
    return Labels(trustedBytes: bytes).description
}
