/// A minimal reader of the protobuf wire format, used to look at a message's top-level fields
/// before handing it to libprotobuf-c: counting series lets the decoder enforce the series limit
/// before unpacking allocates anything for them.
enum ProtoScanner {
    enum ScanError: Error {
        case truncated(offset: Int)
        case badWireType(Int, offset: Int)
    }

    /// Counts the top-level occurrences of length-delimited field `field`, checking that every
    /// top-level field is well framed.
    static func countField(_ field: UInt64, in message: UnsafeRawBufferPointer) throws(ScanError) -> Int {
        var offset = 0
        var count = 0
        while offset < message.count {
            let start = offset
            let key = try readVarint(message, &offset)
            let wireType = Int(key & 7)
            switch wireType {
            case 0: _ = try readVarint(message, &offset)
            case 1: offset += 8
            case 2:
                let length = try readVarint(message, &offset)
                guard length <= UInt64(message.count - offset) else { throw .truncated(offset: start) }
                offset += Int(length)
                if key >> 3 == field { count += 1 }
            case 5: offset += 4
            default: throw .badWireType(wireType, offset: start)
            }
            if offset > message.count { throw .truncated(offset: start) }
        }
        return count
    }

    static func readVarint(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int) throws(ScanError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        let start = offset
        while offset < bytes.count {
            let byte = bytes[offset]
            offset += 1
            if shift == 63, byte > 1 { throw .truncated(offset: start) }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
            if shift > 63 { throw .truncated(offset: start) }
        }
        throw .truncated(offset: start)
    }
}
