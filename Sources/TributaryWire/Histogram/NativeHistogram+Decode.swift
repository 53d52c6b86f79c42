import CPrompb

extension NativeHistogram {
    /// Decodes a `Histogram` message from its protobuf bytes; nil when it is malformed at the
    /// wire level (a field of the wrong wire type, a truncated span or packed field), exactly
    /// where libprotobuf-c's unpack fails, so both decoders refuse the same requests.
    init?(protobuf reader: ProtoReader) {
        self.init()
        var r = reader
        while !r.atEnd {
            guard let key = r.key() else { return nil }
            let field = key >> 3, wireType = key & 7
            switch field {
            case 1, 4, 6, 14, 15:  // count_int, schema (sint32), zero_count_int, reset_hint, timestamp
                guard wireType == 0, let v = r.varint() else { return nil }
                switch field {
                case 1: (isFloat, count, countFloat) = (false, v, 0)
                case 4: schema = Self.unzigzag32(v)
                case 6: (zeroCount, zeroCountFloat) = (v, 0)
                case 15: timestamp = Int64(bitPattern: v)
                default: break
                }
            case 2, 3, 5, 7:  // count_float, sum, zero_threshold, zero_count_float
                guard wireType == 1, let bits = r.fixed64() else { return nil }
                let v = Double(bitPattern: bits)
                switch field {
                case 2: (isFloat, count, countFloat) = (true, 0, v)
                case 3: sum = v
                case 7: (zeroCount, zeroCountFloat) = (0, v)
                default: break
                }
            case 8, 11:  // negative_spans, positive_spans
                guard wireType == 2, let range = r.lengthDelimited(), let span = Self.span(r.sub(range)) else { return nil }
                if field == 8 { negativeSpans.append(span) } else { positiveSpans.append(span) }
            case 9, 12:  // negative_deltas, positive_deltas: repeated sint64, packed or not
                var values: [Int64] = []
                if wireType == 0 {
                    guard let v = r.varint() else { return nil }
                    values.append(Self.unzigzag64(v))
                } else {
                    guard wireType == 2, let range = r.lengthDelimited() else { return nil }
                    var sub = r.sub(range)
                    while !sub.atEnd {
                        guard let v = sub.varint() else { return nil }
                        values.append(Self.unzigzag64(v))
                    }
                }
                if field == 9 { negativeDeltas += values } else { positiveDeltas += values }
            case 10, 13, 16:  // negative_counts, positive_counts, custom_values: repeated double
                var values: [Double] = []
                if wireType == 1 {
                    guard let v = r.fixed64() else { return nil }
                    values.append(Double(bitPattern: v))
                } else {
                    guard wireType == 2, let range = r.lengthDelimited(), (range.end - range.start) % 8 == 0 else { return nil }
                    var sub = r.sub(range)
                    while !sub.atEnd {
                        guard let v = sub.fixed64() else { return nil }
                        values.append(Double(bitPattern: v))
                    }
                }
                switch field {
                case 10: negativeCounts += values
                case 13: positiveCounts += values
                default: customValues += values
                }
            default:
                guard r.skipUnknown(key: key) else { return nil }
            }
        }
    }

    private static func span(_ reader: ProtoReader) -> Span? {
        var r = reader
        var span = Span(offset: 0, length: 0)
        while !r.atEnd {
            guard let key = r.key() else { return nil }
            switch key >> 3 {
            case 1, 2:
                guard key & 7 == 0, let v = r.varint() else { return nil }
                if key >> 3 == 1 { span.offset = unzigzag32(v) } else { span.length = UInt32(truncatingIfNeeded: v) }
            default:
                guard r.skipUnknown(key: key) else { return nil }
            }
        }
        return span
    }

    private static func unzigzag32(_ v: UInt64) -> Int32 {
        let u = UInt32(truncatingIfNeeded: v)
        return Int32(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    private static func unzigzag64(_ v: UInt64) -> Int64 {
        Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    /// From libprotobuf-c's unpacked remote write 1.0 histogram.
    init(_ h: Prometheus__Histogram) {
        self.init()
        isFloat = h.count_case == PROMETHEUS__HISTOGRAM__COUNT_COUNT_FLOAT
        if isFloat { countFloat = h.count_float } else if h.count_case == PROMETHEUS__HISTOGRAM__COUNT_COUNT_INT { count = h.count_int }
        if h.zero_count_case == PROMETHEUS__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_INT { zeroCount = h.zero_count_int }
        if h.zero_count_case == PROMETHEUS__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_FLOAT { zeroCountFloat = h.zero_count_float }
        sum = h.sum
        schema = h.schema
        timestamp = h.timestamp
        negativeSpans = Self.spans(h.n_negative_spans, h.negative_spans) { ($0.offset, $0.length) }
        positiveSpans = Self.spans(h.n_positive_spans, h.positive_spans) { ($0.offset, $0.length) }
        negativeDeltas = Self.array(h.n_negative_deltas, h.negative_deltas)
        positiveDeltas = Self.array(h.n_positive_deltas, h.positive_deltas)
        negativeCounts = Self.array(h.n_negative_counts, h.negative_counts)
        positiveCounts = Self.array(h.n_positive_counts, h.positive_counts)
        customValues = Self.array(h.n_custom_values, h.custom_values)
    }

    /// From libprotobuf-c's unpacked remote write 2.0 histogram.
    init(_ h: Io__Prometheus__Write__V2__Histogram) {
        self.init()
        isFloat = h.count_case == IO__PROMETHEUS__WRITE__V2__HISTOGRAM__COUNT_COUNT_FLOAT
        if isFloat { countFloat = h.count_float } else if h.count_case == IO__PROMETHEUS__WRITE__V2__HISTOGRAM__COUNT_COUNT_INT { count = h.count_int }
        if h.zero_count_case == IO__PROMETHEUS__WRITE__V2__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_INT { zeroCount = h.zero_count_int }
        if h.zero_count_case == IO__PROMETHEUS__WRITE__V2__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_FLOAT { zeroCountFloat = h.zero_count_float }
        sum = h.sum
        schema = h.schema
        timestamp = h.timestamp
        negativeSpans = Self.spans(h.n_negative_spans, h.negative_spans) { ($0.offset, $0.length) }
        positiveSpans = Self.spans(h.n_positive_spans, h.positive_spans) { ($0.offset, $0.length) }
        negativeDeltas = Self.array(h.n_negative_deltas, h.negative_deltas)
        positiveDeltas = Self.array(h.n_positive_deltas, h.positive_deltas)
        negativeCounts = Self.array(h.n_negative_counts, h.negative_counts)
        positiveCounts = Self.array(h.n_positive_counts, h.positive_counts)
        customValues = Self.array(h.n_custom_values, h.custom_values)
    }

    private static func array<T>(_ n: Int, _ p: UnsafeMutablePointer<T>?) -> [T] {
        guard let p, n > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: p, count: n))
    }

    private static func spans<S>(_ n: Int, _ p: UnsafeMutablePointer<UnsafeMutablePointer<S>?>?, _ fields: (S) -> (Int32, UInt32)) -> [Span] {
        guard let p else { return [] }
        return (0..<n).compactMap { i in
            p[i].map {
                let (o, l) = fields($0.pointee); return Span(offset: o, length: l)
            }
        }
    }
}
