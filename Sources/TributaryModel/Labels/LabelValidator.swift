/// Checks labels one at a time as a decoder produces them, so that validation is part of the
/// single pass over the input. Rules are remote write 1.0's: names sorted and unique, neither
/// names nor values empty, names `[a-zA-Z_][a-zA-Z0-9_]*`, the `__name__` value
/// `[a-zA-Z_:][a-zA-Z0-9_:]*`, values valid UTF-8; plus the configured ``LabelLimits``.
public struct LabelValidator {
    public let limits: LabelLimits
    @usableFromInline var previousName: UnsafeRawBufferPointer?
    @usableFromInline var count = 0

    public init(limits: LabelLimits) {
        self.limits = limits
    }

    /// Starts a new series.
    @inlinable
    public mutating func reset() {
        previousName = nil
        count = 0
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
        if !CharacterClass.isLabelName(name) { return violation(.invalidName, name) }
        if value.isEmpty { return violation(.emptyValue, name) }
        if value.count > limits.maxValueLength { return violation(.valueTooLong, name) }
        if CharacterClass.isMetricNameLabel(name) {
            if !CharacterClass.isMetricName(value) { return violation(.invalidMetricName, name) }
        } else if !UTF8Check.isValid(value) {
            return violation(.invalidUTF8, name)
        }
        return nil
    }

    /// Checks the end of the series: it must have had at least one label.
    @inlinable
    public func finish() -> LabelViolation? {
        count == 0 ? LabelViolation(.emptyLabelSet) : nil
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
