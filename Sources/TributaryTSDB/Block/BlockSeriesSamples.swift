import TributaryModel

/// One block series' chunks in `[start, end]`, read where they lie in the block's mapped
/// segment files when the query decodes them.
///
/// Their checksums were verified when the series was selected (``ChunkSegmentReader/checkedSpan(_:)``),
/// so a damaged chunk still fails the query there. Copied out at selection instead, each chunk
/// was an allocation on the thread that read the block and a free on the one that decoded it:
/// with a 6h query's series spread over the query's threads, those frees waited on each
/// other's malloc arena locks.
final class BlockSeriesSamples: SeriesSamples, Sendable {
    /// Holds the segments mapped while the samples may be read.
    let reader: ChunkSegmentReader
    let spans: [ChunkSpan]
    let start: Int64
    let end: Int64

    init(reader: ChunkSegmentReader, spans: [ChunkSpan], start: Int64, end: Int64) {
        self.reader = reader
        self.spans = spans
        self.start = start
        self.end = end
    }

    func appendAll(to out: inout [Sample]) {
        for span in spans { XORChunk.decode(reader.bytes(of: span), from: start, to: end, into: &out) }
    }

    func makeIterator() -> any SampleIterator { ArraySampleIterator(allOf: self) }
}
