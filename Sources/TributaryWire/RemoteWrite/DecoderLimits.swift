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
    /// Label rules per series.
    public var labels: LabelLimits

    public init(
        maxUncompressedBytes: Int = 32 << 20,
        maxSeriesPerRequest: Int = 50_000,
        arenaBytesPerMessageByte: Int = 32,
        labels: LabelLimits = .default
    ) {
        self.maxUncompressedBytes = maxUncompressedBytes
        self.maxSeriesPerRequest = maxSeriesPerRequest
        self.arenaBytesPerMessageByte = arenaBytesPerMessageByte
        self.labels = labels
    }

    public static let `default` = DecoderLimits()
}
