/// Checks labels one at a time as a decoder produces them, so that validation is part of the
/// single pass over the input. Rules are Prometheus 3's (UTF-8 names, as remote write 2.0
/// allows): names sorted and unique, neither names nor values empty, names and values valid
/// UTF-8 (so `http.server.duration` is a metric name), a `__name__` label present; plus the
/// configured ``LabelLimits``.
public struct LabelValidator {
    public let limits: LabelLimits
    @usableFromInline var previousName: UnsafeRawBufferPointer?
    @usableFromInline var count = 0
    @usableFromInline var sawMetricName = false

    public init(limits: LabelLimits) {
        self.limits = limits
    }

    /// Starts a new series.
    @inlinable
    public mutating func reset() {
        previousName = nil
        count = 0
        sawMetricName = false
    }

    /// Checks the next label of the series. `name` must stay valid until the next call.
    @inlinable
    public mutating func check(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> LabelViolation? {
        count += 1
        if count > limits.maxLabelsPerSeries {
            return violation(.tooManyLabels, name)
        }
        if name.isEmpty { return LabelViolation(.emptyName) }
        if name.count > limits.maxNameLength { return violation(.nameTooLong, name) }
        if let previous = previousName {
            let order = FlatLabels.compare(previous, name)
            if order == 0 { return violation(.duplicateName, name) }
            if order > 0 { return violation(.notSorted, name) }
        }
        previousName = name
        // Legacy names (`[a-zA-Z_][a-zA-Z0-9_]*`) are ASCII: the common case skips the UTF-8 scan.
        if !CharacterClass.isLabelName(name), !UTF8Check.isValid(name) { return violation(.invalidName, name) }
        if value.isEmpty { return violation(.emptyValue, name) }
        if value.count > limits.maxValueLength { return violation(.valueTooLong, name) }
        if CharacterClass.isMetricNameLabel(name) {
            sawMetricName = true
            if !UTF8Check.isValid(value) { return violation(.invalidMetricName, name) }
        } else if !UTF8Check.isValid(value) {
            return violation(.invalidUTF8, name)
        }
        return nil
    }

    /// Checks the end of the series: it must have had labels, `__name__` among them.
    @inlinable
    public func finish() -> LabelViolation? {
        if count == 0 { return LabelViolation(.emptyLabelSet) }
        return sawMetricName ? nil : LabelViolation(.missingMetricName)
    }

    @usableFromInline
    func violation(_ rule: LabelViolation.Rule, _ name: UnsafeRawBufferPointer) -> LabelViolation {
        LabelViolation(rule, labelName: String(decoding: name, as: UTF8.self))
    }
}

extension Labels {
    /// Checks every rule of ``LabelValidator``; nil when the labels are valid.
    public func validate(limits: LabelLimits = .default) -> LabelViolation? {
        withView { view in
            var validator = LabelValidator(limits: limits)
            var found: LabelViolation?
            view.forEach { name, value in
                if found == nil { found = validator.check(name: name, value: value) }
            }
            return found ?? validator.finish()
        }
    }
}
