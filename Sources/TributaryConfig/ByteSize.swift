/// A size as Prometheus's `--storage.tsdb.retention.size` takes it: a whole number with a
/// unit of B, KB, MB, GB, TB, PB or EB (powers of 1024, as Prometheus's base-2 units; `KiB`
/// and friends mean the same), or plain bytes.
public enum ByteSize {
    static let units: [(suffix: String, factor: Int)] = [
        ("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30), ("TIB", 1 << 40), ("PIB", 1 << 50), ("EIB", 1 << 60),
        ("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("TB", 1 << 40), ("PB", 1 << 50), ("EB", 1 << 60), ("B", 1)
    ]

    /// Bytes, or nil when `text` is not a size (or overflows).
    public static func parse(_ text: String) -> Int? {
        let upper = text.uppercased().trimmingSpaces
        if let n = Int(upper), n >= 0 { return n }
        for (suffix, factor) in units where upper.hasSuffix(suffix) {
            guard let n = Int(upper.dropLast(suffix.count)), n >= 0 else { return nil }
            let (bytes, overflow) = n.multipliedReportingOverflow(by: factor)
            return overflow ? nil : bytes
        }
        return nil
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
