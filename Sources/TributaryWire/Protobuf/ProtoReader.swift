/// A cursor over protobuf wire-format bytes, for the hand-written decoders. Every read checks
/// bounds and reports malformed input by returning nil or false; nothing traps on input.
package struct ProtoReader {
    package let base: UnsafeRawPointer
    package var offset: Int
    package let end: Int

    @inline(__always)
    package init(_ bytes: UnsafeRawBufferPointer) {
        // An empty buffer may have no base address; any non-null pointer works with end == 0.
        base = bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 0x10)!
        offset = 0
        end = bytes.count
    }

    @inline(__always)
    init(base: UnsafeRawPointer, offset: Int, end: Int) {
        self.base = base
        self.offset = offset
        self.end = end
    }

    @inline(__always)
    package var atEnd: Bool { offset >= end }

    /// Reads a varint of at most 10 bytes.
    @inline(__always)
    package mutating func varint() -> UInt64? {
        guard offset < end else { return nil }
        let first = base.load(fromByteOffset: offset, as: UInt8.self)
        if first < 0x80 {
            offset += 1
            return UInt64(first)
        }
        return varintSlow()
    }

    @inline(never)
    mutating func varintSlow() -> UInt64? {
        boundedVarint(maxBytes: 10)
    }

    /// Reads a field key (`field << 3 | wireType`) with libprotobuf-c's rules, which the
    /// direct decoders must match byte for byte: at most five bytes, and a first byte whose
    /// field bits are zero is an error.
    @inline(__always)
    package mutating func key() -> UInt64? {
        guard offset < end else { return nil }
        let first = base.load(fromByteOffset: offset, as: UInt8.self)
        guard first & 0xF8 != 0 else { return nil }
        if first < 0x80 {
            offset += 1
            return UInt64(first)
        }
        return boundedVarint(maxBytes: 5)
    }

    /// A varint of at most `maxBytes` bytes.
    @inline(never)
    mutating func boundedVarint(maxBytes: Int) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        var i = offset
        let limit = Swift.min(end, offset + maxBytes)
        while i < limit {
            let byte = base.load(fromByteOffset: i, as: UInt8.self)
            i += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 {
                offset = i
                return value
            }
            shift += 7
        }
        return nil
    }

    /// Reads a length prefix and returns the bounds of the field's bytes, advancing past them.
    /// As libprotobuf-c: the prefix has at most five bytes and the length is at most `Int32.max`.
    @inline(__always)
    package mutating func lengthDelimited() -> (start: Int, end: Int)? {
        guard offset < end else { return nil }
        let first = base.load(fromByteOffset: offset, as: UInt8.self)
        let length: UInt64
        if first < 0x80 {
            offset += 1
            length = UInt64(first)
        } else {
            guard let l = boundedVarint(maxBytes: 5), l <= UInt64(Int32.max) else { return nil }
            length = l
        }
        guard length <= UInt64(end - offset) else { return nil }
        let start = offset
        offset += Int(length)
        return (start, offset)
    }

    @inline(__always)
    package mutating func fixed64() -> UInt64? {
        guard end - offset >= 8 else { return nil }
        let v = base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        offset += 8
        return UInt64(littleEndian: v)
    }

    /// Skips an unknown field given its key (from ``key()``); false for an unknown wire type
    /// (groups included) or bytes that run out.
    @inline(__always)
    package mutating func skipUnknown(key: UInt64) -> Bool {
        skip(wireType: key & 7)
    }

    /// Skips a field of `wireType`; false when the type is unknown or the bytes run out.
    @inline(__always)
    package mutating func skip(wireType: UInt64) -> Bool {
        switch wireType {
        case 0: return varint() != nil
        case 1:
            guard end - offset >= 8 else { return false }
            offset += 8
            return true
        case 2: return lengthDelimited() != nil
        case 5:
            guard end - offset >= 4 else { return false }
            offset += 4
            return true
        default: return false
        }
    }

    @inline(__always)
    package func bytes(_ range: (start: Int, end: Int)) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + range.start, count: range.end - range.start)
    }

    @inline(__always)
    package func sub(_ range: (start: Int, end: Int)) -> ProtoReader {
        ProtoReader(base: base, offset: range.start, end: range.end)
    }
}
