import TributaryModel

/// Bulk decoding of an XOR chunk: all samples in `[start, end]` appended to an array in one
/// tight loop over raw memory, reading 64 bits at a time.
///
/// Why: the PromQL engine loads every sample a query reads; through `XORIterator` (one bounds-
/// checked byte per step) loading dominated 6h range queries (tributary-bench promql).
/// `XORIterator` stays for seeking and as the reference the tests compare this with.
extension XORChunk {
    /// Appends the samples of `bytes` with `start <= t <= end` to `out`; stops quietly at
    /// malformed bits. Returns false if the chunk was corrupt. With `resume` (a point of these
    /// very bytes, ``ResumePoints``), decoding starts there instead of at the first sample; a
    /// point past the chunk's samples or bits is ignored.
    @discardableResult
    public static func decode(
        _ bytes: [UInt8], from start: Int64 = .min, to end: Int64 = .max, resumingAt resume: ResumePoint? = nil, into out: inout [Sample]
    ) -> Bool {
        bytes.withUnsafeBufferPointer { decode($0, from: start, to: end, resumingAt: resume, into: &out) }
    }

    /// As ``decode(_:from:to:resumingAt:into:)-([UInt8],_,_,_,_)`` over bytes held elsewhere
    /// (a block's mapped chunk file).
    @discardableResult
    static func decode(
        _ buffer: UnsafeBufferPointer<UInt8>, from start: Int64 = .min, to end: Int64 = .max, resumingAt resume: ResumePoint? = nil,
        into out: inout [Sample]
    ) -> Bool {
        var none = NoResumePoints()
        return decode(buffer, from: start, to: end, resumingAt: resume, into: &out, noting: &none)
    }

    /// As ``decode(_:from:to:resumingAt:into:)-([UInt8],_,_,_,_)``, also noting the decoder's
    /// state every ``resumeEvery`` samples in `points` (the appender's points for the same
    /// bytes: decoder and encoder keep the same state). Specialised per sink, so that decoding
    /// without one pays nothing for it.
    @discardableResult
    static func decode<Points: ResumePointSink>(
        _ buffer: UnsafeBufferPointer<UInt8>, from start: Int64, to end: Int64, resumingAt resume: ResumePoint?, into out: inout [Sample],
        noting points: inout Points
    ) -> Bool {
        guard buffer.count >= 2 else { return buffer.isEmpty }
        guard let base = buffer.baseAddress else { return false }
        let total = Int(buffer[0]) << 8 | Int(buffer[1])
        var r = FastBitReader(base: base, count: buffer.count, bitPosition: 16)
        var state = DecoderState()
        if let resume, resume.index >= 2, Int(resume.index) <= total, Int(resume.bitPosition) <= buffer.count * 8 {
            state = DecoderState(resume)
            r.bitPosition = Int(resume.bitPosition)
        }
        // The bytes from which a whole sample's bits may not be left (see fastMargin).
        let fastEnd = buffer.count - Self.fastMargin
        // Samples go through a small buffer on the stack and into `out` in batches: an append
        // per sample checked `out`'s uniqueness and capacity every time.
        return withUnsafeTemporaryAllocation(of: Sample.self, capacity: Self.batch) { batch -> Bool in
            guard let batchBase = batch.baseAddress else { return false }
            while state.index < total {
                if state.index >= 2 {
                    let held: Int, stop: RunEnd
                    if r.bitPosition &>> 3 <= fastEnd {
                        (held, stop) = fastRun(base, fastEnd, total, &r.bitPosition, &state, from: start, to: end, into: batchBase, noting: &points)
                    } else {
                        (held, stop) = tailRun(base, buffer.count, total, &r.bitPosition, &state, from: start, to: end, into: batchBase, noting: &points)
                    }
                    out.append(contentsOf: UnsafeBufferPointer(start: batchBase, count: held))
                    switch stop {
                    case .corrupt: return false
                    case .pastEnd: return true
                    case .more: continue
                    }
                }
                // The first two samples, each read checked.
                guard let (t, v) = slowSample(&r, &state) else { return false }
                state.index += 1
                if Points.notes, state.index % Self.resumeEvery == 0 { points.note(state.point(at: r.bitPosition)) }
                if t > end { return true }
                if t >= start { out.append(Sample(timestamp: t, value: Double(bitPattern: v))) }
            }
            return true
        }
    }

    /// What a decoder carries from one sample to the next.
    struct DecoderState {
        /// The next sample's index.
        var index = 0
        var t: Int64 = 0
        var tDelta: UInt64 = 0
        var v: UInt64 = 0
        var leading = 0
        var trailing = 0

        init(index: Int = 0, t: Int64 = 0, tDelta: UInt64 = 0, v: UInt64 = 0, leading: Int = 0, trailing: Int = 0) {
            (self.index, self.t, self.tDelta, self.v, self.leading, self.trailing) = (index, t, tDelta, v, leading, trailing)
        }

        /// The state a resume point holds (the inverse of ``point(at:)``).
        init(_ p: ResumePoint) {
            self.init(index: Int(p.index), t: p.t, tDelta: p.tDelta, v: p.v, leading: Int(p.leading), trailing: Int(p.trailing))
        }

        func point(at bitPosition: Int) -> ResumePoint {
            ResumePoint(
                index: UInt16(truncatingIfNeeded: index), leading: UInt8(truncatingIfNeeded: leading), trailing: UInt8(truncatingIfNeeded: trailing),
                bitPosition: UInt32(truncatingIfNeeded: bitPosition), t: t, tDelta: tDelta, v: v)
        }
    }

    enum RunEnd {
        case more
        case pastEnd
        case corrupt
    }

    /// Samples from the third on, while a whole sample's bits lie before byte `fastEnd`,
    /// written at `into` (at most ``batch``; those before `start` are overwritten by the
    /// next). Every piece of state is a local of this loop: captured by closures (the batch's
    /// flush), the value and the window lived on the stack and each sample waited on a store
    /// and a load of them.
    @inline(__always)
    static func fastRun<Points: ResumePointSink>(
        _ base: UnsafePointer<UInt8>, _ fastEnd: Int, _ total: Int, _ bitPosition: inout Int, _ state: inout DecoderState,
        from start: Int64, to end: Int64, into out: UnsafeMutablePointer<Sample>, noting points: inout Points,
        endBit: Int = .max, offset: Int = 0
    ) -> (held: Int, RunEnd) {
        var r = FastBitReader(base: base, count: fastEnd + Self.fastMargin, bitPosition: bitPosition)
        var t = state.t, tDelta = state.tDelta, v = state.v, leading = state.leading, trailing = state.trailing
        var i = state.index
        var held = 0
        var stop = RunEnd.more
        while i < total, held < Self.batch, r.bitPosition &>> 3 <= fastEnd {
            guard Self.decodeUnchecked(&r, &t, &tDelta, &v, &leading, &trailing), r.bitPosition <= endBit else {
                stop = .corrupt
                break
            }
            i &+= 1
            if Points.notes, i % Self.resumeEvery == 0 {
                points.note(DecoderState(index: i, t: t, tDelta: tDelta, v: v, leading: leading, trailing: trailing).point(at: offset &+ r.bitPosition))
            }
            if t > end {
                stop = .pastEnd
                break
            }
            (out + held).initialize(to: Sample(timestamp: t, value: Double(bitPattern: v)))
            held &+= t >= start ? 1 : 0
        }
        bitPosition = r.bitPosition
        state = DecoderState(index: i, t: t, tDelta: tDelta, v: v, leading: leading, trailing: trailing)
        return (held, stop)
    }

    /// The samples in the chunk's last ``fastMargin`` bytes, by ``fastRun`` over a copy of
    /// them followed by zeros, each sample refused (as corrupt) if its bits end past the
    /// chunk's. A refresh reads the newest samples of an open chunk, which are these: through
    /// checked reads, they were a tenth of a block's decoding and more of a refresh's.
    static func tailRun<Points: ResumePointSink>(
        _ base: UnsafePointer<UInt8>, _ count: Int, _ total: Int, _ bitPosition: inout Int, _ state: inout DecoderState,
        from start: Int64, to end: Int64, into out: UnsafeMutablePointer<Sample>, noting points: inout Points
    ) -> (held: Int, RunEnd) {
        let first = bitPosition &>> 3
        let left = count - first
        // At most fastMargin bytes are left here, and fastRun reads fastMargin past a position.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 * Self.fastMargin + 8) { copy -> (Int, RunEnd) in
            guard let copyBase = copy.baseAddress, left >= 0, left <= Self.fastMargin + 8 else { return (0, .corrupt) }
            copy.initialize(repeating: 0)
            copyBase.update(from: base + first, count: left)
            var position = bitPosition & 7
            let outcome = fastRun(
                UnsafePointer(copyBase), copy.count - Self.fastMargin, total, &position, &state, from: start, to: end, into: out,
                noting: &points, endBit: left * 8, offset: first * 8)
            bitPosition = first * 8 + position
            return outcome
        }
    }

    /// The first or the second sample, every read checked: the first's timestamp is a varint
    /// and its value whole, the second's delta a varint. (Every later sample goes through
    /// ``fastRun``, the chunk's last bytes through ``tailRun``.)
    static func slowSample(_ r: inout FastBitReader, _ s: inout DecoderState) -> (Int64, UInt64)? {
        if s.index == 0 {
            guard let first = r.readVarintOfBytes(), let bits = r.readBits(64) else { return nil }
            s.t = first
            s.v = bits
            return (s.t, s.v)
        }
        guard let d = r.readUVarintOfBytes() else { return nil }
        s.tDelta = d
        s.t = s.t &+ Int64(bitPattern: s.tDelta)
        // The value's control bits: 0 (unchanged), 10 (the previous window), 11 (a new one).
        let control = r.peekBits(2)
        guard r.skip(control < 2 ? 1 : 2) else { return nil }
        if control >= 2 {
            if control == 3 {
                guard let l = r.readBits(5), let sig = r.readBits(6) else { return nil }
                s.leading = Int(l)
                let significant = sig == 0 ? 64 : Int(sig)
                guard s.leading + significant <= 64 else { return nil }
                s.trailing = 64 - s.leading - significant
            }
            let significant = 64 - s.leading - s.trailing
            guard significant > 0, let bits = r.readBits(significant) else { return nil }
            s.v ^= bits << UInt64(s.trailing)
        }
        return (s.t, s.v)
    }

    /// Samples decoded before they are appended to the caller's array: 64 of 16 bytes, the
    /// most `withUnsafeTemporaryAllocation` puts on the stack on Linux (1 KiB; above it, a
    /// malloc and a free per chunk decoded, which took the thread's malloc arena lock).
    static let batch = 64

    /// Bytes that must remain from the reader's position for ``decodeUnchecked`` to read a
    /// sample: at most 68 bits of timestamp and 77 of value, and each 64-bit read takes a
    /// ninth byte.
    static let fastMargin = 24

    /// One sample after the second, read without bounds checks (the caller made sure of
    /// ``fastMargin`` bytes). The same bits as ``XORIterator`` reads, the same corruption
    /// refused, with a shorter chain of dependent steps: one word
    /// read at the sample's start holds the delta of delta, the value's control bits and its
    /// window header (at most 37 bits unless the delta takes 64), so the next sample's position
    /// is known after one load; the value's bits are read off that chain. The value's "previous
    /// window" and "new window" cases are chosen by conditional moves, not a branch that noisy
    /// floats mispredict.
    @inline(__always)
    static func decodeUnchecked(
        _ r: inout FastBitReader, _ t: inout Int64, _ tDelta: inout UInt64, _ v: inout UInt64, _ leading: inout Int, _ trailing: inout Int
    ) -> Bool {
        // Delta of delta: a prefix of up to four 1 bits (ended by a 0 below four), then 0,
        // 14, 17, 20 or 64 bits.
        let w = r.uncheckedWord(at: r.bitPosition)
        let c: UInt64  // from the value's first bit on
        var position: Int
        let ones = min(4, (~w).leadingZeroBitCount)
        if w < UInt64(1) << 63 {
            // A delta of delta of 0, one bit: samples at a steady interval, by far the most
            // common. A branch, as it is predicted; the bit count below is on the chain of
            // dependent steps from one sample's position to the next.
            position = r.bitPosition &+ 1
            c = w &<< 1
        } else if ones == 4 {
            tDelta = tDelta &+ r.uncheckedWord(at: r.bitPosition &+ 4)
            position = r.bitPosition &+ 68
            c = r.uncheckedWord(at: position)
        } else {
            let size = ones == 0 ? 0 : 11 &+ 3 &* ones
            // Two shifts so that a width of 0 gives 0 (a shift by 64 would not).
            let raw = ((w &<< UInt64(ones &+ 1)) &>> 1) &>> UInt64(63 &- size)
            // Prometheus's reading of the sign: above half the range is negative, half itself is not.
            let full = UInt64(1) &<< UInt64(size)
            tDelta = tDelta &+ (raw > full &>> 1 ? raw &- full : raw)
            let used = ones &+ 1 &+ size
            position = r.bitPosition &+ used
            c = w &<< UInt64(used)
        }
        t = t &+ Int64(bitPattern: tDelta)
        // The value: 0 (unchanged), 10 (XOR in the previous window), 11 (a new window).
        guard c >= UInt64(1) << 63 else {
            r.bitPosition = position &+ 1
            return true
        }
        let isNew = c & (UInt64(1) << 62) != 0
        let header = (c &<< 2) &>> 53
        let newLeading = Int(header &>> 6), newSignificant = header & 63 == 0 ? 64 : Int(header & 63)
        if isNew, newLeading &+ newSignificant > 64 { return false }
        leading = isNew ? newLeading : leading
        trailing = isNew ? 64 &- newLeading &- newSignificant : trailing
        position &+= isNew ? 13 : 2
        let significant = 64 &- leading &- trailing
        r.bitPosition = position &+ significant
        v ^= (r.uncheckedWord(at: position) &>> UInt64(64 &- significant)) &<< UInt64(trailing)
        return true
    }
}

/// Reads bits most significant first from raw memory, 64 at a time.
struct FastBitReader {
    let base: UnsafePointer<UInt8>
    let count: Int
    var bitPosition: Int

    @inline(__always)
    mutating func readBits(_ n: Int) -> UInt64? {
        guard n > 0 else { return 0 }
        guard bitPosition + n <= count &* 8 else { return nil }
        let byte = bitPosition &>> 3, shift = bitPosition & 7
        let word = byte + 8 <= count ? UInt64(bigEndian: UnsafeRawPointer(base + byte).loadUnaligned(as: UInt64.self)) : tail(byte)
        var value = word &<< UInt64(shift)
        if shift + n > 64 {
            // The last bits come from the ninth byte (present: the bounds check above).
            value |= UInt64(base[byte + 8]) &>> UInt64(8 - shift)
        }
        bitPosition += n
        return value &>> UInt64(64 - n)
    }

    /// The 64 bits from bit `position` on, with no bounds check: the caller made sure that
    /// nine bytes from its byte are inside the chunk.
    @inline(__always)
    func uncheckedWord(at position: Int) -> UInt64 {
        let byte = position &>> 3, shift = UInt64(position & 7)
        let word = UInt64(bigEndian: UnsafeRawPointer(base + byte).loadUnaligned(as: UInt64.self))
        // With shift 0 the ninth byte shifts out entirely.
        return (word &<< shift) | (UInt64(base[byte &+ 8]) &>> (8 &- shift))
    }

    /// The next `n` bits (1...57) without moving past them; zeros beyond the end.
    @inline(__always)
    func peekBits(_ n: Int) -> UInt64 {
        let byte = bitPosition &>> 3, shift = bitPosition & 7
        let word = byte + 8 <= count ? UInt64(bigEndian: UnsafeRawPointer(base + byte).loadUnaligned(as: UInt64.self)) : byte < count ? tail(byte) : 0
        return (word &<< UInt64(shift)) &>> UInt64(64 - n)
    }

    /// A varint as ``BitSource/readUVarint()`` reads it, but a byte at a time from memory: the
    /// position must be on a byte boundary (nil when not), as a chunk's first two samples put
    /// theirs whatever their bits (bit 16, then a whole varint and 64 bits later). Eight bits
    /// at a time, the first timestamp (six bytes) and the second delta took ~480 instructions
    /// per chunk decoded from its start (callgrind), the cost of ~7 samples.
    @inline(__always)
    mutating func readUVarintOfBytes() -> UInt64? {
        guard bitPosition & 7 == 0 else { return nil }
        var value: UInt64 = 0
        var shift: UInt64 = 0
        var byte = bitPosition &>> 3
        for _ in 0..<10 {
            guard byte < count else { return nil }
            let b = UInt64(base[byte])
            byte += 1
            value |= (b & 0x7F) << shift
            if b < 0x80 {
                bitPosition = byte &<< 3
                return value
            }
            shift += 7
        }
        return nil
    }

    /// As ``readUVarintOfBytes()``, zig-zag decoded (``BitSource/readVarint()``).
    @inline(__always)
    mutating func readVarintOfBytes() -> Int64? {
        readUVarintOfBytes().map(zigZagDecoded)
    }

    /// Moves past `n` bits; false when fewer are left.
    @inline(__always)
    mutating func skip(_ n: Int) -> Bool {
        guard bitPosition + n <= count &* 8 else { return false }
        bitPosition += n
        return true
    }

    /// The last bytes of the chunk from `byte` on, as the high bytes of a word.
    @inline(never)
    func tail(_ byte: Int) -> UInt64 {
        var word: UInt64 = 0
        for k in 0..<(count - byte) { word |= UInt64(base[byte + k]) &<< UInt64(56 - 8 * k) }
        return word
    }
}

extension FastBitReader: BitSource {}
