/// Looks at a message's top-level fields before it is decoded: counting series lets the decoder
/// enforce the series limit before anything is allocated for them. Framing follows
/// ``ProtoReader`` (libprotobuf-c's rules).
enum ProtoScanner {
    struct Malformed: Error {
        var offset: Int
    }

    /// Counts the top-level occurrences of length-delimited field `field`, checking that every
    /// top-level field is well framed.
    static func countField(_ field: UInt64, in message: UnsafeRawBufferPointer) throws(Malformed) -> Int {
        var reader = ProtoReader(message)
        var count = 0
        while !reader.atEnd {
            let start = reader.offset
            guard let key = reader.key() else { throw Malformed(offset: start) }
            if key >> 3 == field, key & 7 == 2 {
                guard reader.lengthDelimited() != nil else { throw Malformed(offset: start) }
                count += 1
            } else if !reader.skipUnknown(key: key) {
                throw Malformed(offset: start)
            }
        }
        return count
    }
}
