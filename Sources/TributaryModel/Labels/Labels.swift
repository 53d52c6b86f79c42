/// A set of labels identifying one series, kept as one flat byte buffer sorted by name.
///
/// The layout is, for each label in ascending name order, `uvarint(len(name)) name
/// uvarint(len(value)) value` (as Prometheus's `stringlabels`). Equality, hashing and ordering
/// work on those bytes, so comparing or hashing a series costs no `String` and no allocation.
///
/// `Labels` values are immutable and `Sendable`; build them with ``LabelsBuilder`` or from
/// already-sorted pairs with ``init(sortedPairs:)``.
public struct Labels: Sendable {
    /// The flat encoding described above.
    public let bytes: [UInt8]

    /// The empty label set.
    public static let empty = Labels(trustedBytes: [])

    /// Wraps bytes already in the flat encoding; the caller vouches for the layout.
    package init(trustedBytes: [UInt8]) {
        self.bytes = trustedBytes
    }

    /// Copies bytes read from outside (a WAL record), checking only that they are a sequence of
    /// length-prefixed names and values; nil when a length runs past the end.
    public init?(flatBytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < flatBytes.count {
            guard FlatLabels.readString(flatBytes, at: &offset) != nil, FlatLabels.readString(flatBytes, at: &offset) != nil else { return nil }
        }
        self.bytes = Array(flatBytes)
    }

    /// Copies the bytes a ``LabelsView`` points at.
    public init(_ view: LabelsView) {
        self.bytes = Array(view.bytes)
    }

    /// Builds labels from pairs that are already sorted by name with unique names.
    /// Sorting is not checked here; ``validate(limits:)`` does.
    public init(sortedPairs: [(name: String, value: String)]) {
        var bytes: [UInt8] = []
        for pair in sortedPairs {
            FlatLabels.append(name: pair.name.utf8, value: pair.value.utf8, to: &bytes)
        }
        self.bytes = bytes
    }

    /// Calls `body` with a borrowed view of these labels.
    @inlinable
    public func withView<R>(_ body: (LabelsView) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes { try body(LabelsView($0)) }
    }

    /// Number of labels.
    public var count: Int { withView { $0.count } }

    /// True when the set holds no label.
    public var isEmpty: Bool { bytes.isEmpty }

    /// The value of `name`, or nil.
    public func value(of name: String) -> String? {
        withView { view in
            var name = name
            return name.withUTF8 { view.value(of: UnsafeRawBufferPointer($0)).map { String(decoding: $0, as: UTF8.self) } }
        }
    }

    /// The labels as `(name, value)` strings, in order. Allocates; for the JSON edge and tests.
    public var pairs: [(name: String, value: String)] {
        withView { view in
            var out: [(name: String, value: String)] = []
            out.reserveCapacity(view.count)
            view.forEach { name, value in
                out.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
            }
            return out
        }
    }

    /// A 64-bit hash of the encoded bytes, stable across processes (for sharding and stripes).
    public var stableHash: UInt64 { withView { $0.stableHash } }
}

extension Labels: Hashable {
    public static func == (lhs: Labels, rhs: Labels) -> Bool {
        lhs.bytes.withUnsafeBytes { l in rhs.bytes.withUnsafeBytes { r in FlatLabels.equal(l, r) } }
    }

    /// The set's ``StableHash`` fed to `hasher`: one word through SipHash instead of every
    /// byte (a label set is ~100 bytes; hashing them was ~9 % of a one-step `a / b` over 940
    /// pairs, where the engine keys dictionaries by labels). Buckets still follow the
    /// process's seed; two sets whose stable hashes collide share a bucket, as they already
    /// share a lock stripe.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.withUnsafeBytes { StableHash.hash($0) })
    }
}

extension Labels: Comparable {
    /// Orders label sets as Prometheus does: label by label, name first, then value.
    public static func < (lhs: Labels, rhs: Labels) -> Bool {
        lhs.withView { l in rhs.withView { r in l.compare(r) < 0 } }
    }
}

extension Labels: CustomStringConvertible {
    /// `{a="1", b="2"}` in Prometheus's notation, values escaped.
    public var description: String { withView { $0.description } }
}

extension Labels: ExpressibleByDictionaryLiteral {
    /// Sorted and de-duplicated (last value wins); for tests and constants.
    public init(dictionaryLiteral elements: (String, String)...) {
        var builder = LabelsBuilder()
        for (name, value) in elements { builder.set(name, value) }
        self = builder.labels()
    }
}
