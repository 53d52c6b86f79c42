import TributaryModel

/// Places in a head chunk where decoding may start instead of at its first sample.
///
/// Why: a dashboard refresh, an instant query or a rule reads the last minutes of every
/// series, and those are in the open chunk, which holds up to 120 samples (half an hour at
/// 15 s), or for a few minutes after a cut in the chunk closed last too. XOR decoding only
/// runs forward, so reading the last 20 samples decoded the whole chunk up to them: a quarter
/// of a one-step query's time over 12k series went to samples before its window. The appender
/// knows the decoder's state after each sample (the same timestamp, delta, value and window it
/// encodes against), so the head keeps that state every ``XORChunk/resumeEvery`` samples, the
/// latest ``ResumePoints/kept`` of them: a window of up to 32 samples starts at most 16
/// samples early. At a cut the open chunk's points become the closed chunk's. Where there are
/// none yet, the first read notes them while decoding the chunk once (decoder and encoder hold
/// the same state, so these are the points the appender would have kept).
///
/// Memory: only series that queries read have points (a ``ResumeBox``, `Docs/memory.md`);
/// kept in every series they cost 96 bytes of a 400-byte budget.
public struct ResumePoint: Sendable, Equatable {
    /// The first sample decoded from here (0 when the point is unset).
    var index: UInt16 = 0
    /// The value's leading and trailing zeros of the last window written.
    var leading: UInt8 = 0
    var trailing: UInt8 = 0
    /// Bit position of sample `index` in the chunk's bytes.
    var bitPosition: UInt32 = 0
    /// Timestamp and value bits of sample `index - 1`, and its timestamp delta.
    var t: Int64 = 0
    var tDelta: UInt64 = 0
    var v: UInt64 = 0
}

/// Where a decoder notes its resume points (``XORChunk/decode(_:from:to:resumingAt:into:noting:)``).
protocol ResumePointSink {
    /// False for a sink that keeps nothing: the decoder then skips the noting altogether.
    static var notes: Bool { get }
    mutating func note(_ point: ResumePoint)
}

/// Decoding that keeps no resume points.
struct NoResumePoints: ResumePointSink {
    static var notes: Bool { false }
    @inline(__always) func note(_ point: ResumePoint) {}
}

/// The latest resume points of one chunk, in three slots used in turn.
struct ResumePoints: Sendable, Equatable, ResumePointSink {
    static var notes: Bool { true }

    var a = ResumePoint()
    var b = ResumePoint()
    var c = ResumePoint()

    static let kept = 3

    mutating func note(_ point: ResumePoint) { record(point) }

    mutating func record(_ point: ResumePoint) {
        switch Int(point.index) / XORChunk.resumeEvery % Self.kept {
        case 0: a = point
        case 1: b = point
        default: c = point
        }
    }

    /// The latest point before `start`: every sample at or after `start` comes after it.
    func best(before start: Int64) -> ResumePoint? {
        var best = ResumePoint()
        func consider(_ p: ResumePoint) { if p.index > best.index, p.t < start { best = p } }
        consider(a)
        consider(b)
        consider(c)
        return best.index > 0 ? best : nil
    }
}

/// The resume points of one series' open chunk, kept while queries read the series. Changed
/// only under the series' stripe lock.
final class ResumeBox: @unchecked Sendable {
    var points: ResumePoints
    /// The first timestamp of the chunk the points describe: a point is used only while the
    /// series' open chunk starts there (a new chunk, or one written again after a deletion,
    /// starts later, since in-order samples only move forward).
    var chunkStart: Int64
    /// The points of the chunk closed last (it started at `closedChunkStart`), kept until the
    /// next cut: a refresh just after a cut reads the last minutes of that chunk, and without
    /// them decoded all of it (a one-step rate over 12.7k series: 1.5M samples for 250k in its
    /// windows).
    var closedPoints = ResumePoints()
    var closedChunkStart: Int64 = .min
    /// A query read the series since the chunk started; a box not read for a whole chunk is
    /// dropped.
    var used = true
    /// The series' labels, built from the head's symbols by the first read that had this
    /// box: a series' labels never change, and each refresh of a panel built them again for
    /// every series it read (an allocation and a copy of each symbol; ~8 % of a one-step
    /// refresh over 13k series).
    var labels: Labels?

    init(points: ResumePoints, chunkStart: Int64) {
        self.points = points
        self.chunkStart = chunkStart
    }

    /// Most boxes one lock stripe keeps: 256 × 1,024 stripes is 262,144 series (~70 MB). One
    /// wide ad-hoc query (`count({__name__=~".+"})`) reads every series' open chunk once; without
    /// a bound it would give each a box (and seed it: a decode of the chunk) for up to two chunks. When
    /// a stripe is full, further series read from the chunk's start until boxes are dropped.
    static let perStripe = 256
}

extension XORChunk {
    /// Samples between two resume points.
    static let resumeEvery = 16

    /// The decoder's state after the last sample appended, as a point to resume at the next.
    var resumeAtEnd: ResumePoint? {
        let n = count
        guard n >= 2, n <= Int(UInt16.max), let bits = UInt32(exactly: (stream.bytes.count - 1) * 8 + Int(stream.bitsInLastByte)) else { return nil }
        return ResumePoint(
            index: UInt16(n), leading: leading == 0xFF ? 0 : leading, trailing: trailing, bitPosition: bits, t: lastT, tDelta: lastTDelta,
            v: lastV.bitPattern)
    }

    /// The latest points of `bytes`, noted by decoding them once (no sample kept). Nil when
    /// the chunk is corrupt.
    static func resumePoints(of bytes: [UInt8]) -> ResumePoints? {
        var none: [Sample] = []
        var points = ResumePoints()
        let complete = bytes.withUnsafeBufferPointer { decode($0, from: .max, to: .max, resumingAt: nil, into: &none, noting: &points) }
        return complete ? points : nil
    }
}

extension MemSeries {
    /// Gives `box` to the series, which has none; `boxes` counts the stripe's. Caller holds
    /// the stripe lock.
    private func keepBox(_ box: ResumeBox, _ boxes: inout Int) {
        state.pointee.box = box
        boxes += 1
    }

    /// Marks the series' box used, first making one (its points unknown, as in
    /// ``closedResumePoint(before:_:)``) when the stripe has room: for a read that decodes
    /// nothing (``Head/read(_:start:end:newestOnly:into:)``), which keeps the series' labels
    /// there. `boxes` counts the stripe's. Caller holds the stripe lock.
    func markBoxUsed(_ boxes: inout Int) {
        if state.pointee.box == nil, boxes < ResumeBox.perStripe {
            keepBox(ResumeBox(points: ResumePoints(), chunkStart: .min), &boxes)
        }
        state.pointee.box?.used = true
    }

    /// Drops the series' box, if it has one. Caller holds the stripe lock.
    func dropBox(_ boxes: inout Int) {
        guard state.pointee.box != nil else { return }
        state.pointee.box = nil
        boxes -= 1
    }

    /// Keeps the resume points of a series that queries read (its box) after an append; a
    /// box left from an earlier chunk starts over, or goes if no query read it. `boxes`
    /// counts the stripe's. Caller holds the stripe lock.
    @inline(__always)
    func recordResumePoint(_ boxes: inout Int) {
        let p = state
        guard p.pointee.head.count % XORChunk.resumeEvery == 0, let box = p.pointee.box else { return }
        if box.chunkStart != p.pointee.headMinTime {
            guard box.used else {
                dropBox(&boxes)
                return
            }
            box.points = ResumePoints()
            box.chunkStart = p.pointee.headMinTime
            box.used = false
        }
        if let point = p.pointee.head.resumeAtEnd { box.points.record(point) }
    }

    /// At a cut (the chunk that started at `closedStart` just closed): its points stay usable
    /// for reads that reach back into it, the open chunk's start empty, and a box that no query
    /// read during the whole chunk goes. Caller holds the stripe lock.
    func closeResumePoints(chunkStart closedStart: Int64, _ boxes: inout Int) {
        guard let box = state.pointee.box else { return }
        guard box.used else {
            dropBox(&boxes)
            return
        }
        box.closedPoints = box.chunkStart == closedStart ? box.points : ResumePoints()
        box.closedChunkStart = closedStart
        box.points = ResumePoints()
        box.chunkStart = headMinTime
        box.used = false
    }

    /// The latest resume point before `start` in the last closed chunk: the points its cut
    /// kept (or those of an open chunk closed since), else noted now by decoding the chunk once,
    /// as for the open chunk. Caller holds the stripe lock.
    /// A box made here is given to the series and counted in `boxes`, the stripe's.
    func closedResumePoint(before start: Int64, _ boxes: inout Int) -> ResumePoint? {
        // Only the last chunk's start is read here when the box knows its points: the chunk
        // itself (a copy, a reference taken and dropped) only when they are noted.
        guard let lastMinTime = closed.last?.minTime, start > lastMinTime else { return nil }
        let box = state.pointee.box
        if let box {
            box.used = true
            if box.closedChunkStart == lastMinTime { return box.closedPoints.best(before: start) }
            if box.chunkStart == lastMinTime { return box.points.best(before: start) }
        }
        guard box != nil || boxes < ResumeBox.perStripe, let last = closed.last, last.bytes.count >= 2,
            Int(last.bytes[0]) << 8 | Int(last.bytes[1]) >= 2 * XORChunk.resumeEvery, let points = XORChunk.resumePoints(of: last.bytes)
        else { return nil }
        // A new box's open-chunk points are unknown (no chunk starts at .min): the first read
        // of the open chunk notes them.
        let target = box ?? ResumeBox(points: ResumePoints(), chunkStart: .min)
        target.closedPoints = points
        target.closedChunkStart = lastMinTime
        if box == nil { keepBox(target, &boxes) }
        return points.best(before: start)
    }

    /// The latest resume point of the open chunk before `start`. The first read of a chunk of
    /// at least two points' samples makes the series' box (as for
    /// ``closedResumePoint(before:_:)``). Caller holds the stripe lock.
    func resumePoint(before start: Int64, _ boxes: inout Int) -> ResumePoint? {
        let p = state
        let chunkStart = p.pointee.headMinTime
        let count = p.pointee.head.count
        guard count > 0, start > chunkStart else { return nil }
        let box = p.pointee.box
        box?.used = true
        if let box, box.chunkStart == chunkStart { return box.points.best(before: start) }
        guard count >= 2 * XORChunk.resumeEvery, box != nil || boxes < ResumeBox.perStripe,
            let points = XORChunk.resumePoints(of: p.pointee.head.bytes)
        else { return nil }
        if let box {
            box.points = points
            box.chunkStart = chunkStart
        } else {
            keepBox(ResumeBox(points: points, chunkStart: chunkStart), &boxes)
        }
        return points.best(before: start)
    }
}
