/// Prometheus durations (`model.Duration`): `1y2w3d4h5m6s7ms`, units in that order, each at most
/// once, or `0`. Values are milliseconds. Named apart from `Swift.Duration`, which it is not.
public enum PrometheusDuration {
    public static let units: [(String, Int64)] = [
        ("y", 365 * 86_400_000), ("w", 7 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)
    ]

    /// Milliseconds, or nil when `text` is not a duration.
    public static func parse(_ text: String) -> Int64? {
        if text == "0" { return 0 }
        let bytes = Array(text.utf8)
        var i = 0
        var total: Int64 = 0
        var nextUnit = 0
        var parts = 0
        while i < bytes.count {
            var n: Int64 = 0
            let digitsStart = i
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 {
                let (m, o1) = n.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(bytes[i] - 48))
                guard !o1, !o2 else { return nil }
                n = a
                i += 1
            }
            guard i > digitsStart else { return nil }
            var unitText = ""
            if i + 1 < bytes.count, bytes[i] == UInt8(ascii: "m"), bytes[i + 1] == UInt8(ascii: "s") {
                unitText = "ms"
                i += 2
            } else if i < bytes.count {
                unitText = String(UnicodeScalar(bytes[i]))
                i += 1
            } else {
                return nil
            }
            guard let k = units[nextUnit...].firstIndex(where: { $0.0 == unitText }) else { return nil }
            nextUnit = k + 1
            let (v, o) = n.multipliedReportingOverflow(by: units[k].1)
            guard !o else { return nil }
            let (sum, o2) = total.addingReportingOverflow(v)
            guard !o2 else { return nil }
            total = sum
            parts += 1
        }
        return parts > 0 ? total : nil
    }

    /// `ms` as Prometheus writes it: years and weeks only when they divide it exactly (`90d`,
    /// not `12w6d`), then days down to milliseconds, zero parts left out; `0s` for zero.
    public static func format(_ ms: Int64) -> String {
        guard ms > 0 else { return "0s" }
        var left = ms
        var out = ""
        for (unit, size) in units {
            if unit == "y" || unit == "w", left % size != 0 { continue }
            if left >= size {
                out += "\(left / size)\(unit)"
                left %= size
            }
        }
        return out
    }
}
