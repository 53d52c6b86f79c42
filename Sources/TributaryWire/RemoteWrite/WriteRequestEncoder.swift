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
    /// Prometheus's queue sends them: `element(i)` gives the i-th series' labels packed by
    /// ``packLabels(_:)`` and its sample. The same bytes as ``encode(_:)`` of those series:
    /// libprotobuf-c packs the labels once per series (when the agent first sees it) and each
    /// sample here; a `TimeSeries` is its fields in number order, so it is the packed labels
    /// followed by field 2 around the packed sample, and the request is field 1 repeated.
    public func encodeSingles(count: Int, _ element: (Int) -> (UnsafeRawBufferPointer, Sample)) -> [UInt8] {
        var output = RawWriter(capacity: count * 160)
        var sample = Prometheus__Sample()
        prometheus__sample__init(&sample)
        // A packed Sample is at most 9 (double) + 11 (int64) bytes.
        var packed: (UInt64, UInt64, UInt64) = (0, 0, 0)
        for i in 0..<count {
            let (labels, value) = element(i)
            sample.value = value.value
            sample.timestamp = value.timestamp
            let size = withUnsafeMutableBytes(of: &packed) { prometheus__sample__pack(&sample, $0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
            output.reserve(labels.count + size + 14)
            output.byte(0x0A)  // field 1 (timeseries), length-delimited
            output.varint(UInt64(labels.count + 2 + size))
            output.bytes(labels)
            output.byte(0x12)  // field 2 (samples), length-delimited; size < 128
            output.byte(UInt8(size))
            withUnsafeBytes(of: &packed) { output.bytes(UnsafeRawBufferPointer(rebasing: $0.prefix(size))) }
        }
        return Snappy.compress(output.written)
    }

    /// Labels from their flat bytes: every string copied, NUL-terminated, into one arena block
    /// (the flat form's length prefixes make room for the terminators).
    func makeLabels(_ labels: Labels) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<Prometheus__Label>?>) {
        labels.bytes.withUnsafeBytes { flat in
            let view = LabelsView(flat)
            let count = view.count
            let pointers = alloc.allocate(UnsafeMutablePointer<Prometheus__Label>?.self, count: count)
            let structs = alloc.allocate(Prometheus__Label.self, count: count)
            let strings = alloc.allocate(CChar.self, count: flat.count + 1)
            var at = 0, j = 0
            view.forEach { name, value in
                let label = structs + j
                prometheus__label__init(label)
                label.pointee.name = copy(name, to: strings, at: &at)
                label.pointee.value = copy(value, to: strings, at: &at)
                pointers[j] = label
                j += 1
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
