import CPrompb
import TributaryModel

/// Encodes remote-write 1.0 requests with libprotobuf-c and compresses them with snappy.
///
/// Concurrency: not thread-safe; one encoder per shard or sender.
public final class WriteRequestEncoder {
    let arena = ArenaAllocator.make()
    var alloc: ArenaAllocator { ArenaAllocator(arena: arena) }

    public init() {}

    deinit {
        tributary_arena_destroy(arena)
        arena.deallocate()
    }

    /// The snappy-compressed body of `request`.
    public func encode(_ request: WriteRequest) -> [UInt8] {
        Snappy.compress(encodeUncompressed(request))
    }

    /// The serialized `prometheus.WriteRequest`, uncompressed.
    public func encodeUncompressed(_ request: WriteRequest) -> [UInt8] {
        tributary_arena_reset(arena)
        var message = Prometheus__WriteRequest()
        prometheus__write_request__init(&message)
        message.n_timeseries = request.timeseries.count
        message.timeseries = alloc.allocate(UnsafeMutablePointer<Prometheus__TimeSeries>?.self, count: request.timeseries.count)
        for (i, series) in request.timeseries.enumerated() {
            message.timeseries[i] = makeSeries(series)
        }
        message.n_metadata = request.metadata.count
        message.metadata = alloc.allocate(UnsafeMutablePointer<Prometheus__MetricMetadata>?.self, count: request.metadata.count)
        for (i, m) in request.metadata.enumerated() {
            let p = alloc.allocate(Prometheus__MetricMetadata.self, count: 1)
            prometheus__metric_metadata__init(p)
            p.pointee.type = Prometheus__MetricMetadata__MetricType(rawValue: UInt32(truncatingIfNeeded: m.type.rawValue))
            p.pointee.metric_family_name = alloc.cString(m.metricFamilyName.utf8)
            p.pointee.help = alloc.cString(m.help.utf8)
            p.pointee.unit = alloc.cString(m.unit.utf8)
            message.metadata[i] = p
        }
        return pack(&message.base)
    }

    /// The snappy-compressed body of a request of `count` series with one sample each, as
    /// Prometheus's queue sends them: `element(i)` gives the i-th. The same bytes as
    /// ``encode(_:)`` of those series, without building a ``TimeSeries`` (and its sample array)
    /// per sample. libprotobuf-c packs each `TimeSeries`; the request around them is only
    /// field 1 repeated (tag, length, message), written here, which spares libprotobuf-c sizing
    /// every series twice more for the enclosing message.
    public func encodeSingles(count: Int, _ element: (Int) -> (Labels, Sample)) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(count * 128)
        for i in 0..<count {
            // The arena holds one series at a time: it is packed before the next is built.
            tributary_arena_reset(arena)
            let (labels, value) = element(i)
            let ts = alloc.allocate(Prometheus__TimeSeries.self, count: 1)
            prometheus__time_series__init(ts)
            (ts.pointee.n_labels, ts.pointee.labels) = makeLabels(labels)
            let sample = alloc.allocate(Prometheus__Sample.self, count: 1)
            prometheus__sample__init(sample)
            sample.pointee.value = value.value
            sample.pointee.timestamp = value.timestamp
            let list = alloc.allocate(UnsafeMutablePointer<Prometheus__Sample>?.self, count: 1)
            list[0] = sample
            ts.pointee.n_samples = 1
            ts.pointee.samples = list
            // `base` is the message's first member.
            let base = UnsafeRawPointer(ts).assumingMemoryBound(to: ProtobufCMessage.self)
            let size = protobuf_c_message_get_packed_size(base)
            output.append(0x0A) // field 1, length-delimited
            var n = UInt64(size)
            while n >= 0x80 {
                output.append(UInt8(truncatingIfNeeded: n) | 0x80)
                n >>= 7
            }
            output.append(UInt8(n))
            let at = output.count
            output.append(contentsOf: repeatElement(0, count: size))
            output.withUnsafeMutableBufferPointer { buffer in
                _ = protobuf_c_message_pack(base, buffer.baseAddress.map { $0 + at })
            }
        }
        return Snappy.compress(output)
    }

    /// Labels from their flat bytes: every string copied, NUL-terminated, into one arena block
    /// (the flat form's length prefixes make room for the terminators).
    private func makeLabels(_ labels: Labels) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<Prometheus__Label>?>) {
        labels.bytes.withUnsafeBytes { flat in
            var count = 0, offset = 0
            while FlatLabels.readString(flat, at: &offset) != nil, FlatLabels.readString(flat, at: &offset) != nil { count += 1 }
            let pointers = alloc.allocate(UnsafeMutablePointer<Prometheus__Label>?.self, count: count)
            let structs = alloc.allocate(Prometheus__Label.self, count: count)
            let strings = alloc.allocate(CChar.self, count: flat.count + 1)
            var at = 0
            offset = 0
            for j in 0..<count {
                guard let name = FlatLabels.readString(flat, at: &offset), let value = FlatLabels.readString(flat, at: &offset) else { break }
                let label = structs + j
                prometheus__label__init(label)
                label.pointee.name = copy(name, to: strings, at: &at)
                label.pointee.value = copy(value, to: strings, at: &at)
                pointers[j] = label
            }
            return (count, pointers)
        }
    }

    @inline(__always)
    private func copy(_ s: UnsafeRawBufferPointer, to strings: UnsafeMutablePointer<CChar>, at: inout Int) -> UnsafeMutablePointer<CChar> {
        let p = strings + at
        if let base = s.baseAddress { UnsafeMutableRawPointer(p).copyMemory(from: base, byteCount: s.count) }
        p[s.count] = 0
        at += s.count + 1
        return p
    }

    private func makeSeries(_ series: TimeSeries) -> UnsafeMutablePointer<Prometheus__TimeSeries> {
        let ts = alloc.allocate(Prometheus__TimeSeries.self, count: 1)
        prometheus__time_series__init(ts)
        (ts.pointee.n_labels, ts.pointee.labels) = makeLabels(series.labels)
        ts.pointee.n_samples = series.samples.count
        ts.pointee.samples = alloc.allocate(UnsafeMutablePointer<Prometheus__Sample>?.self, count: series.samples.count)
        let samples = alloc.allocate(Prometheus__Sample.self, count: series.samples.count)
        for (j, s) in series.samples.enumerated() {
            prometheus__sample__init(samples + j)
            samples[j].value = s.value
            samples[j].timestamp = s.timestamp
            ts.pointee.samples[j] = samples + j
        }
        ts.pointee.n_exemplars = series.exemplars.count
        ts.pointee.exemplars = alloc.allocate(UnsafeMutablePointer<Prometheus__Exemplar>?.self, count: series.exemplars.count)
        for (j, e) in series.exemplars.enumerated() {
            let p = alloc.allocate(Prometheus__Exemplar.self, count: 1)
            prometheus__exemplar__init(p)
            (p.pointee.n_labels, p.pointee.labels) = makeLabels(e.labels)
            p.pointee.value = e.value
            p.pointee.timestamp = e.timestamp
            ts.pointee.exemplars[j] = p
        }
        return ts
    }

    func pack(_ message: UnsafePointer<ProtobufCMessage>) -> [UInt8] {
        let size = protobuf_c_message_get_packed_size(message)
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            initialized = protobuf_c_message_pack(message, buffer.baseAddress)
        }
    }
}
