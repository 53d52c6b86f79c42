import TributaryModel

/// Ceilings a decoder enforces before it allocates for a request.
public struct DecoderLimits: Sendable, Equatable {
    /// Largest uncompressed message, checked against snappy's declared length.
    public var maxUncompressedBytes: Int
    /// Most series one request may carry, counted before unpacking.
    public var maxSeriesPerRequest: Int
    /// Most bytes libprotobuf-c may take while unpacking one request, as a multiple of the
    /// message size (unpacked structs are larger than their wire form).
    public var arenaBytesPerMessageByte: Int
    /// Most bytes the labels of one request may take once decoded. Remote write 2.0 refers to
    /// interned symbols, so a small message can name huge label sets; 1.0 never exceeds its
    /// message size.
    public var maxDecodedLabelBytes: Int
    /// Label rules per series.
    public var labels: LabelLimits

    public init(
        maxUncompressedBytes: Int = 32 << 20,
        maxSeriesPerRequest: Int = 50_000,
        arenaBytesPerMessageByte: Int = 32,
        maxDecodedLabelBytes: Int = 128 << 20,
        labels: LabelLimits = .default
    ) {
        self.maxDecodedLabelBytes = maxDecodedLabelBytes
        self.maxUncompressedBytes = maxUncompressedBytes
        self.maxSeriesPerRequest = maxSeriesPerRequest
        self.arenaBytesPerMessageByte = arenaBytesPerMessageByte
        self.labels = labels
    }

    public static let `default` = DecoderLimits()
}
