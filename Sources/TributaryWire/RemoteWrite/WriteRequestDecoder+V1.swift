import CPrompb
import TributaryModel

extension WriteRequestDecoder {
    /// Unpacks a `prometheus.WriteRequest` with libprotobuf-c into the arena and copies it
    /// into the batch, validating each series on the way.
    func decodeV1(_ message: UnsafeRawBufferPointer) throws(WireError) {
        guard
            let request = prometheus__write_request__unpack(
                &arena.pointee.allocator, message.count, message.baseAddress?.assumingMemoryBound(to: UInt8.self)
            )
        else {
            throw unpackFailure("WriteRequest", size: message.count)
        }
        let req = request.pointee
        batch.labelBytes.removeAll(keepingCapacity: true)
        batch.series.reserveCapacity(req.n_timeseries)
        var validator = LabelValidator(limits: limits.labels)
        for i in 0..<req.n_timeseries {
            guard let ts = req.timeseries[i]?.pointee else { continue }
            appendSeries(ts, index: i, validator: &validator)
        }
        for i in 0..<req.n_metadata {
            guard let m = req.metadata[i]?.pointee else { continue }
            batch.metadata.append(
                MetricMetadata(
                    type: MetricMetadata.MetricType(rawValue: Int32(truncatingIfNeeded: m.type.rawValue)) ?? .unknown,
                    metricFamilyName: String(decoding: cBytes(m.metric_family_name), as: UTF8.self),
                    help: String(decoding: cBytes(m.help), as: UTF8.self),
                    unit: String(decoding: cBytes(m.unit), as: UTF8.self)
                ))
        }
    }

    private func appendSeries(_ ts: Prometheus__TimeSeries, index: Int, validator: inout LabelValidator) {
        let labelsStart = batch.labelBytes.count
        validator.reset()
        for j in 0..<ts.n_labels {
            guard let label = ts.labels[j]?.pointee else { continue }
            let name = cBytes(label.name)
            let value = cBytes(label.value)
            if let violation = validator.check(name: name, value: value) {
                batch.labelBytes.removeSubrange(labelsStart...)
                reject(index: index, samples: ts.n_samples, histograms: ts.n_histograms, violation: violation) { Self.describeLabels(ts) }
                return
            }
            FlatLabels.append(name: name, value: value, to: &batch.labelBytes)
        }
        if let violation = validator.finish() {
            reject(index: index, samples: ts.n_samples, histograms: ts.n_histograms, violation: violation) { Self.describeLabels(ts) }
            return
        }
        let labelsEnd = batch.labelBytes.count
        let samplesStart = batch.samples.count
        for j in 0..<ts.n_samples {
            guard let s = ts.samples[j]?.pointee else { continue }
            batch.samples.append(Sample(timestamp: s.timestamp, value: s.value))
        }
        let exemplarsStart = batch.exemplars.count
        for j in 0..<ts.n_exemplars {
            guard let e = ts.exemplars[j]?.pointee else { continue }
            let start = batch.labelBytes.count
            var runes = 0
            for k in 0..<e.n_labels {
                guard let l = e.labels[k]?.pointee else { continue }
                let name = cBytes(l.name), value = cBytes(l.value)
                runes += UTF8Check.runeCount(name) + UTF8Check.runeCount(value)
                FlatLabels.append(name: name, value: value, to: &batch.labelBytes)
            }
            if Exemplar.labelsTooLong(runes: runes, bytes: batch.labelBytes.count - start) {
                batch.labelBytes.removeSubrange(start...)
                batch.noteDroppedExemplar(seriesIndex: index)
                continue
            }
            batch.exemplars.append(
                .init(
                    labelsStart: Int32(start), labelsEnd: Int32(batch.labelBytes.count), value: e.value, timestamp: e.timestamp
                ))
        }
        for j in 0..<ts.n_histograms {
            guard let h = ts.histograms[j]?.pointee else { continue }
            batch.noteHistogram(NativeHistogram(h), seriesIndex: index, histogramIndex: j)
        }
        batch.series.append(
            .init(
                labelsStart: Int32(labelsStart), labelsEnd: Int32(labelsEnd),
                samplesStart: Int32(samplesStart), samplesEnd: Int32(batch.samples.count),
                exemplarsStart: Int32(exemplarsStart), exemplarsEnd: Int32(batch.exemplars.count),
                histogramCount: Int32(ts.n_histograms), requestIndex: Int32(index)
            ))
    }

    static func describeLabels(_ ts: Prometheus__TimeSeries) -> String {
        var pairs: [(UnsafeRawBufferPointer, UnsafeRawBufferPointer)] = []
        for j in 0..<ts.n_labels {
            guard let label = ts.labels[j]?.pointee else { continue }
            pairs.append((cBytes(label.name), cBytes(label.value)))
        }
        return describePairs(pairs)
    }
}
