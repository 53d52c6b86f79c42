/// Configurable ceilings on a series' labels, checked while decoding, before anything is stored.
public struct LabelLimits: Sendable, Equatable {
    /// Most labels one series may carry (including `__name__`).
    public var maxLabelsPerSeries: Int
    /// Longest label name, in bytes.
    public var maxNameLength: Int
    /// Longest label value, in bytes.
    public var maxValueLength: Int

    public init(maxLabelsPerSeries: Int = 128, maxNameLength: Int = 1024, maxValueLength: Int = 4096) {
        self.maxLabelsPerSeries = maxLabelsPerSeries
        self.maxNameLength = maxNameLength
        self.maxValueLength = maxValueLength
    }

    public static let `default` = LabelLimits()
}
