import CPrompb
import TributaryModel

#if canImport(Glibc)
    import Glibc
#endif

extension WriteRequestDecoder {
    /// Unpacks an `io.prometheus.write.v2.Request`, resolving `labels_refs` through the symbols
    /// table into the batch's flat labels.
    func decodeV2(_ message: UnsafeRawBufferPointer) throws(WireError) {
        guard
            let request = io__prometheus__write__v2__request__unpack(
                &arena.pointee.allocator, message.count, message.baseAddress?.assumingMemoryBound(to: UInt8.self)
            )
        else {
            throw unpackFailure("io.prometheus.write.v2.Request", size: message.count)
        }
        let req = request.pointee
        batch.labelBytes.removeAll(keepingCapacity: true)
        symbolLengths.removeAll(keepingCapacity: true)
        for i in 0..<req.n_symbols {
            symbolLengths.append(req.symbols[i].map { strlen($0) } ?? 0)
        }
        if req.n_symbols > 0, symbolLengths[0] != 0 {
            throw WireError(.invalidSymbols, "cannot decode request: symbols[0] must be the empty string, got \(symbolLengths[0]) bytes")
        }
        if req.n_symbols == 0, req.n_timeseries > 0 {
            throw WireError(.invalidSymbols, "cannot decode request: \(req.n_timeseries) series but an empty symbols table (symbols[0] must be \"\")")
        }
        batch.series.reserveCapacity(req.n_timeseries)
        var validator = LabelValidator(limits: limits.labels)
        let symbols = Symbols(pointers: req.symbols, lengths: symbolLengths)
        for i in 0..<req.n_timeseries {
            guard let ts = req.timeseries[i]?.pointee else { continue }
            guard appendSeries(ts, index: i, symbols: symbols, validator: &validator) else {
                throw WireError(
                    .bodyTooLarge,
                    "cannot decode request: labels of the first \(i + 1) series take more than \(limits.maxDecodedLabelBytes) bytes once resolved from the symbols table"
                )
            }
        }
    }

    /// The request's symbols table with lengths measured once.
    struct Symbols {
        let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let lengths: [Int]

        subscript(ref: UInt32) -> UnsafeRawBufferPointer? {
            let i = Int(ref)
            guard i < lengths.count, let pointers else { return nil }
            return UnsafeRawBufferPointer(start: pointers[i], count: lengths[i])
        }
    }

    /// Appends one series, or refuses it; false only when the decoded labels outgrow
    /// ``DecoderLimits/maxDecodedLabelBytes`` (symbols may be referenced any number of times).
    private func appendSeries(
        _ ts: Io__Prometheus__Write__V2__TimeSeries, index: Int, symbols: Symbols, validator: inout LabelValidator
    ) -> Bool {
        let describe = { Self.describeRefs(ts.n_labels_refs, ts.labels_refs, symbols) }
        guard ts.n_labels_refs % 2 == 0 else {
            reject(index: index, samples: ts.n_samples, histograms: ts.n_histograms, message: "labels_refs holds an odd number (\(ts.n_labels_refs)) of references", labels: describe)
            return true
        }
        let labelsStart = batch.labelBytes.count
        validator.reset()
        var j = 0
        while j < ts.n_labels_refs {
            let nameRef = ts.labels_refs[j], valueRef = ts.labels_refs[j + 1]
            guard let name = symbols[nameRef], let value = symbols[valueRef] else {
                batch.labelBytes.removeSubrange(labelsStart...)
                let bad = symbols[nameRef] == nil ? nameRef : valueRef
                reject(index: index, samples: ts.n_samples, histograms: ts.n_histograms, message: "labels_refs[\(symbols[nameRef] == nil ? j : j + 1)] = \(bad) is out of range (\(symbols.lengths.count) symbols)", labels: describe)
                return true
            }
            if let violation = validator.check(name: name, value: value) {
                batch.labelBytes.removeSubrange(labelsStart...)
                reject(index: index, samples: ts.n_samples, histograms: ts.n_histograms, violation: violation, labels: describe)
                return true
            }
            if batch.labelBytes.count + name.count + value.count > limits.maxDecodedLabelBytes { return false }
            FlatLabels.append(name: name, value: value, to: &batch.labelBytes)
            j += 2
        }
        if let violation = validator.finish() {
            reject(index: index, samples: ts.n_samples, histograms: ts.n_histograms, violation: violation, labels: describe)
            return true
        }
        let labelsEnd = batch.labelBytes.count
        if let m = ts.metadata?.pointee, !appendMetadata(m, labelsStart: labelsStart, labelsEnd: labelsEnd, symbols: symbols) {
            batch.labelBytes.removeSubrange(labelsStart...)
            reject(index: index, samples: ts.n_samples, histograms: ts.n_histograms, message: "metadata help_ref \(m.help_ref) or unit_ref \(m.unit_ref) is out of range (\(symbols.lengths.count) symbols)", labels: describe)
            return true
        }
        let samplesStart = batch.samples.count
        for k in 0..<ts.n_samples {
            guard let s = ts.samples[k]?.pointee else { continue }
            batch.samples.append(Sample(timestamp: s.timestamp, value: s.value))
        }
        let exemplarsStart = batch.exemplars.count
        for k in 0..<ts.n_exemplars {
            guard let e = ts.exemplars[k]?.pointee else { continue }
            let start = batch.labelBytes.count
            var runes = 0, bytes = 0
            var r = 0
            while r + 1 < e.n_labels_refs {
                if let name = symbols[e.labels_refs[r]], let value = symbols[e.labels_refs[r + 1]] {
                    runes += UTF8Check.runeCount(name) + UTF8Check.runeCount(value)
                    bytes += name.count + value.count
                    if Exemplar.labelsTooLong(runes: runes, bytes: bytes) { break }
                    FlatLabels.append(name: name, value: value, to: &batch.labelBytes)
                }
                r += 2
            }
            if Exemplar.labelsTooLong(runes: runes, bytes: bytes) {
                batch.labelBytes.removeSubrange(start...)
                batch.noteDroppedExemplar(seriesIndex: index)
                continue
            }
            batch.exemplars.append(
                .init(
                    labelsStart: Int32(start), labelsEnd: Int32(batch.labelBytes.count), value: e.value, timestamp: e.timestamp
                ))
        }
        for k in 0..<ts.n_histograms {
            guard let h = ts.histograms[k]?.pointee else { continue }
            batch.noteHistogram(NativeHistogram(h), seriesIndex: index, histogramIndex: k)
        }
        batch.series.append(
            .init(
                labelsStart: Int32(labelsStart), labelsEnd: Int32(labelsEnd),
                samplesStart: Int32(samplesStart), samplesEnd: Int32(batch.samples.count),
                exemplarsStart: Int32(exemplarsStart), exemplarsEnd: Int32(batch.exemplars.count),
                histogramCount: Int32(ts.n_histograms), requestIndex: Int32(index)
            ))
        return true
    }

    /// Adds the series' metadata unless it is empty or repeats the previous entry's family.
    /// Returns false when a reference is out of range.
    private func appendMetadata(
        _ m: Io__Prometheus__Write__V2__Metadata, labelsStart: Int, labelsEnd: Int, symbols: Symbols
    ) -> Bool {
        guard let help = symbols[m.help_ref], let unit = symbols[m.unit_ref] else { return false }
        let type = Int32(truncatingIfNeeded: m.type.rawValue)
        if type == 0, help.isEmpty, unit.isEmpty { return true }
        let family = batch.labelBytes.withUnsafeBytes { all -> String in
            let view = LabelsView(UnsafeRawBufferPointer(rebasing: all[labelsStart..<labelsEnd]))
            var nameLabel = Array("__name__".utf8)
            return nameLabel.withUnsafeMutableBytes { key in
                view.value(of: UnsafeRawBufferPointer(key)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            }
        }
        if batch.metadata.last?.metricFamilyName == family { return true }
        batch.metadata.append(
            MetricMetadata(
                type: MetricMetadata.MetricType(rawValue: type) ?? .unknown,
                metricFamilyName: family,
                help: String(decoding: help, as: UTF8.self),
                unit: String(decoding: unit, as: UTF8.self)
            ))
        return true
    }

    static func describeRefs(_ count: Int, _ refs: UnsafeMutablePointer<UInt32>?, _ symbols: Symbols) -> String {
        guard let refs else { return "{}" }
        var pairs: [(UnsafeRawBufferPointer, UnsafeRawBufferPointer)] = []
        let missing = UnsafeRawBufferPointer(start: nil, count: 0)
        var j = 0
        while j + 1 < count {
            pairs.append((symbols[refs[j]] ?? missing, symbols[refs[j + 1]] ?? missing))
            j += 2
        }
        return describePairs(pairs)
    }
}
