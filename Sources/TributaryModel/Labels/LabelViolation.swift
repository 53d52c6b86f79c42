/// Why a series' labels were refused: the rule broken and the label it concerns.
public struct LabelViolation: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Rule: String, Sendable, Equatable, CaseIterable {
        case emptyLabelSet = "empty label set"
        case missingMetricName = "no __name__ label (every series needs a metric name)"
        case emptyName = "empty label name"
        case emptyValue = "empty label value"
        case invalidName = "label name is not valid UTF-8"
        case invalidMetricName = "metric name is not valid UTF-8"
        case invalidUTF8 = "label value is not valid UTF-8"
        case notSorted = "label names not sorted"
        case duplicateName = "duplicate label name"
        case tooManyLabels = "too many labels"
        case nameTooLong = "label name too long"
        case valueTooLong = "label value too long"
    }

    public var rule: Rule
    /// The offending label's name (lossily decoded; empty for ``Rule/emptyLabelSet``).
    public var labelName: String

    public init(_ rule: Rule, labelName: String = "") {
        self.rule = rule
        self.labelName = labelName
    }

    public var description: String {
        labelName.isEmpty ? rule.rawValue : "\(rule.rawValue) \(quoted(labelName))"
    }
}
