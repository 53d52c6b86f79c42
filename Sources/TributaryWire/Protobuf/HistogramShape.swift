/// Checks that a remote-write 1.0 `Histogram` message is well formed without decoding it.
/// Native histograms are not stored yet, but a malformed one must refuse the request exactly
/// as libprotobuf-c's unpack does, so the direct decoder checks every field's wire type, packed
/// lengths and nested `BucketSpan`s.
enum HistogramShape {
    static func isWellFormed(_ reader: ProtoReader) -> Bool {
        var r = reader
        while !r.atEnd {
            guard let key = r.key() else { return false }
            let field = key >> 3, wireType = key & 7
            switch field {
            case 1, 4, 6, 14, 15:  // count_int, schema, zero_count_int, reset_hint, timestamp
                guard wireType == 0, r.varint() != nil else { return false }
            case 2, 3, 5, 7:  // count_float, sum, zero_threshold, zero_count_float
                guard wireType == 1, r.fixed64() != nil else { return false }
            case 8, 11:  // negative_spans, positive_spans
                guard wireType == 2, let range = r.lengthDelimited(), isSpan(r.sub(range)) else { return false }
            case 9, 12:  // negative_deltas, positive_deltas: repeated sint64, packed or not
                if wireType == 0 {
                    guard r.varint() != nil else { return false }
                } else {
                    guard wireType == 2, let range = r.lengthDelimited(), allVarints(r.sub(range)) else { return false }
                }
            case 10, 13, 16:  // negative_counts, positive_counts, custom_values: repeated double
                if wireType == 1 {
                    guard r.fixed64() != nil else { return false }
                } else {
                    guard wireType == 2, let range = r.lengthDelimited(), (range.end - range.start) % 8 == 0 else { return false }
                }
            default:
                guard r.skipUnknown(key: key) else { return false }
            }
        }
        return true
    }

    private static func isSpan(_ reader: ProtoReader) -> Bool {
        var r = reader
        while !r.atEnd {
            guard let key = r.key() else { return false }
            switch key >> 3 {
            case 1, 2:
                guard key & 7 == 0, r.varint() != nil else { return false }
            default:
                guard r.skipUnknown(key: key) else { return false }
            }
        }
        return true
    }

    private static func allVarints(_ reader: ProtoReader) -> Bool {
        var r = reader
        while !r.atEnd {
            guard r.varint() != nil else { return false }
        }
        return true
    }
}
