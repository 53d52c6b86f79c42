/// A borrowed, non-owning view of labels in the flat encoding of ``Labels``.
///
/// Valid only while the memory it points at is; never store one. Used on hot paths (decoding,
/// head lookups) to hash, compare and validate labels without copying them.
public struct LabelsView {
    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Calls `body` with each name and value, in order. Stops early on malformed bytes.
    @inlinable
    public func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) rethrows {
        var offset = 0
        while offset < bytes.count {
            guard let name = FlatLabels.readString(bytes, at: &offset),
                let value = FlatLabels.readString(bytes, at: &offset)
            else { return }
            try body(name, value)
        }
    }

    /// Number of labels.
    public var count: Int {
        var n = 0
        forEach { _, _ in n += 1 }
        return n
    }

    /// The value of the label `name`, or nil.
    public func value(of name: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var found: UnsafeRawBufferPointer?
        forEach { n, v in
            if found == nil, FlatLabels.equal(n, name) { found = v }
        }
        return found
    }

    /// Negative, zero or positive as `self` orders before, equal to or after `other`: names
    /// and values compared in turn, as strings, the shorter set first when one is the other's
    /// start.
    ///
    /// The strings wholly inside the bytes both encodings share are equal in both, so the
    /// comparison starts at the string holding the first byte that differs (a series' labels
    /// and its neighbour's in label order share most of theirs: metric name, job, group). Went
    /// string by string from the first, it was most of sorting and merging the series of a
    /// query.
    public func compare(_ other: LabelsView) -> Int {
        let common = FlatLabels.commonPrefix(bytes, other.bytes)
        if common == bytes.count, common == other.bytes.count { return 0 }
        var a = 0
        while true {
            var end = a
            guard FlatLabels.readString(bytes, at: &end) != nil, end <= common else { break }
            a = end
        }
        var b = a
        while a < bytes.count, b < other.bytes.count {
            guard let l = FlatLabels.readString(bytes, at: &a), let r = FlatLabels.readString(other.bytes, at: &b) else { return 0 }
            let c = FlatLabels.compare(l, r)
            if c != 0 { return c }
        }
        return (a < bytes.count ? 1 : 0) - (b < other.bytes.count ? 1 : 0)
    }

    /// The stable 64-bit hash of the bytes (see ``StableHash``).
    public var stableHash: UInt64 { StableHash.hash(bytes) }

    /// `{a="1", b="2"}`.
    public var description: String {
        var out = "{"
        var first = true
        forEach { name, value in
            if !first { out += ", " }
            first = false
            out += String(decoding: name, as: UTF8.self)
            out += "="
            out += quoted(String(decoding: value, as: UTF8.self))
        }
        return out + "}"
    }
}

/// Go-style double-quoted string with `\\`, `\"`, `\n` escaped, as Prometheus prints values.
/// A label name as PromQL writes it: bare when it is a legacy name (`[a-zA-Z_][a-zA-Z0-9_]*`),
/// quoted otherwise (UTF-8 names: `"service.name"`).
public func promQLLabelName(_ name: String) -> String {
    var copy = name
    let legacy = copy.withUTF8 { CharacterClass.isLabelName(UnsafeRawBufferPointer($0)) }
    return legacy ? name : quoted(name)
}

/// Whether a metric name can be written bare in PromQL (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
public func isLegacyMetricName(_ name: String) -> Bool {
    var copy = name
    return copy.withUTF8 { CharacterClass.isMetricName(UnsafeRawBufferPointer($0)) }
}

func quoted(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\\": out += "\\\\"
        case "\"": out += "\\\""
        case "\n": out += "\\n"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
