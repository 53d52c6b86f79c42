import CPrompb
import TributaryModel

/// A remote-write 2.0 request spelled out as its symbols table and references, encoded with
/// libprotobuf-c exactly as given (no checks), so tests and senders control every field.
public struct V2Message: Sendable {
    public struct Series: Sendable {
        public var labelsRefs: [UInt32]
        public var samples: [Sample]
        public var exemplars: [(labelsRefs: [UInt32], value: Double, timestamp: Int64)]
        /// `(type, helpRef, unitRef)`, or nil for no metadata field.
        public var metadata: (type: MetricMetadata.MetricType, helpRef: UInt32, unitRef: UInt32)?

        public init(
            labelsRefs: [UInt32], samples: [Sample] = [],
            exemplars: [(labelsRefs: [UInt32], value: Double, timestamp: Int64)] = [],
            metadata: (type: MetricMetadata.MetricType, helpRef: UInt32, unitRef: UInt32)? = nil
        ) {
            self.labelsRefs = labelsRefs
            self.samples = samples
            self.exemplars = exemplars
            self.metadata = metadata
        }
    }

    public var symbols: [String]
    public var timeseries: [Series]

    public init(symbols: [String], timeseries: [Series]) {
        self.symbols = symbols
        self.timeseries = timeseries
    }

    /// Builds the message for `request`, interning every string into one symbols table.
    public init(_ request: WriteRequest) {
        var table = SymbolTable()
        let metadataByFamily = Dictionary(request.metadata.map { ($0.metricFamilyName, $0) }, uniquingKeysWith: { a, _ in a })
        timeseries = request.timeseries.map { series in
            var refs: [UInt32] = []
            for (name, value) in series.labels.pairs {
                refs.append(table.ref(name))
                refs.append(table.ref(value))
            }
            let exemplars = series.exemplars.map { e in
                (labelsRefs: e.labels.pairs.flatMap { [table.ref($0.name), table.ref($0.value)] }, value: e.value, timestamp: e.timestamp)
            }
            var metadata: (type: MetricMetadata.MetricType, helpRef: UInt32, unitRef: UInt32)?
            if let name = series.labels.value(of: "__name__"), let m = metadataByFamily[name] {
                metadata = (m.type, table.ref(m.help), table.ref(m.unit))
            }
            return Series(labelsRefs: refs, samples: series.samples, exemplars: exemplars, metadata: metadata)
        }
        symbols = table.symbols
    }

    /// The serialized `io.prometheus.write.v2.Request`, uncompressed.
    public func encodeUncompressed() -> [UInt8] {
        let arena = ArenaAllocator.make()
        defer {
            tributary_arena_destroy(arena)
            arena.deallocate()
        }
        let alloc = ArenaAllocator(arena: arena)
        var message = Io__Prometheus__Write__V2__Request()
        io__prometheus__write__v2__request__init(&message)
        message.n_symbols = symbols.count
        message.symbols = alloc.allocate(UnsafeMutablePointer<CChar>?.self, count: symbols.count)
        for (i, s) in symbols.enumerated() { message.symbols[i] = alloc.cString(s.utf8) }
        message.n_timeseries = timeseries.count
        message.timeseries = alloc.allocate(UnsafeMutablePointer<Io__Prometheus__Write__V2__TimeSeries>?.self, count: timeseries.count)
        for (i, series) in timeseries.enumerated() {
            let ts = alloc.allocate(Io__Prometheus__Write__V2__TimeSeries.self, count: 1)
            io__prometheus__write__v2__time_series__init(ts)
            ts.pointee.n_labels_refs = series.labelsRefs.count
            ts.pointee.labels_refs = alloc.allocate(UInt32.self, count: series.labelsRefs.count)
            for (j, r) in series.labelsRefs.enumerated() { ts.pointee.labels_refs[j] = r }
            ts.pointee.n_samples = series.samples.count
            ts.pointee.samples = alloc.allocate(UnsafeMutablePointer<Io__Prometheus__Write__V2__Sample>?.self, count: series.samples.count)
            for (j, s) in series.samples.enumerated() {
                let p = alloc.allocate(Io__Prometheus__Write__V2__Sample.self, count: 1)
                io__prometheus__write__v2__sample__init(p)
                p.pointee.value = s.value
                p.pointee.timestamp = s.timestamp
                ts.pointee.samples[j] = p
            }
            ts.pointee.n_exemplars = series.exemplars.count
            ts.pointee.exemplars = alloc.allocate(UnsafeMutablePointer<Io__Prometheus__Write__V2__Exemplar>?.self, count: series.exemplars.count)
            for (j, e) in series.exemplars.enumerated() {
                let p = alloc.allocate(Io__Prometheus__Write__V2__Exemplar.self, count: 1)
                io__prometheus__write__v2__exemplar__init(p)
                p.pointee.n_labels_refs = e.labelsRefs.count
                p.pointee.labels_refs = alloc.allocate(UInt32.self, count: e.labelsRefs.count)
                for (k, r) in e.labelsRefs.enumerated() { p.pointee.labels_refs[k] = r }
                p.pointee.value = e.value
                p.pointee.timestamp = e.timestamp
                ts.pointee.exemplars[j] = p
            }
            if let m = series.metadata {
                let p = alloc.allocate(Io__Prometheus__Write__V2__Metadata.self, count: 1)
                io__prometheus__write__v2__metadata__init(p)
                p.pointee.type = Io__Prometheus__Write__V2__Metadata__MetricType(rawValue: UInt32(truncatingIfNeeded: m.type.rawValue))
                p.pointee.help_ref = m.helpRef
                p.pointee.unit_ref = m.unitRef
                ts.pointee.metadata = p
            }
            message.timeseries[i] = ts
        }
        return withUnsafePointer(to: &message.base) { base in
            let size = protobuf_c_message_get_packed_size(base)
            return [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                initialized = protobuf_c_message_pack(base, buffer.baseAddress)
            }
        }
    }

    /// The snappy-compressed body.
    public func encode() -> [UInt8] { Snappy.compress(encodeUncompressed()) }
}

/// Interns strings for a 2.0 symbols table; index 0 is always "".
struct SymbolTable {
    private(set) var symbols: [String] = [""]
    private var index: [String: UInt32] = ["": 0]

    mutating func ref(_ s: String) -> UInt32 {
        if let r = index[s] { return r }
        let r = UInt32(symbols.count)
        symbols.append(s)
        index[s] = r
        return r
    }
}
