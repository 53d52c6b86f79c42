import CPrompb
import TributaryModel

/// A series' labels in the form libprotobuf-c packs them inside a `TimeSeries`: field 1
/// repeated, one `Label` message each. The agent keeps these bytes per series, so a request
/// copies a series' labels instead of having them packed again for every sample it sends
/// (see ``WriteRequestEncoder/encodeSingles(count:_:)``).
public enum PackedLabels {
    /// The flat ``Labels`` of packed bytes; nil when the bytes are not packed labels.
    /// A field libprotobuf-c left out (an empty name or value) reads as empty.
    public static func labels(_ packed: UnsafeRawBufferPointer) -> Labels? {
        var flat: [UInt8] = []
        flat.reserveCapacity(packed.count)
        var series = ProtoReader(packed)
        while !series.atEnd {
            guard series.key() == 0x0A, let label = series.lengthDelimited() else { return nil }
            var fields = series.sub(label)
            var name = UnsafeRawBufferPointer(start: nil, count: 0), value = name
            while !fields.atEnd {
                guard let key = fields.key() else { return nil }
                switch key {
                case 0x0A, 0x12:
                    guard let range = fields.lengthDelimited() else { return nil }
                    if key == 0x0A { name = fields.bytes(range) } else { value = fields.bytes(range) }
                default:
                    guard fields.skipUnknown(key: key) else { return nil }
                }
            }
            FlatLabels.append(name: name, value: value, to: &flat)
        }
        return Labels(trustedBytes: flat)
    }
}

extension WriteRequestEncoder {
    /// `labels` packed by libprotobuf-c: the bytes of a `TimeSeries` that holds only them.
    public func packLabels(_ labels: Labels) -> [UInt8] {
        tributary_arena_reset(arena)
        let ts = alloc.allocate(Prometheus__TimeSeries.self, count: 1)
        prometheus__time_series__init(ts)
        (ts.pointee.n_labels, ts.pointee.labels) = makeLabels(labels)
        return pack(UnsafeRawPointer(ts).assumingMemoryBound(to: ProtobufCMessage.self))
    }
}
