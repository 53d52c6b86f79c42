import Glibc

/// Number syntax of the two formats, checked on bytes before conversion.
enum ExpositionNumbers {
    /// A float: `[+-]?(digits[.digits]|.digits)([eE][+-]?digits)?`, or the infinity and NaN
    /// words. OpenMetrics spells those exactly (`+Inf`, `-Inf`, `Inf`, `NaN`); text 0.0.4 takes
    /// any case, as Go's ParseFloat does.
    static func float(_ bytes: UnsafeRawBufferPointer, strictWords: Bool) -> Double? {
        guard !bytes.isEmpty else { return nil }
        if let word = special(bytes, strict: strictWords) { return word }
        guard isDecimal(bytes) else { return nil }
        return convert(bytes)
    }

    /// An integer with an optional sign (text 0.0.4 timestamps, in milliseconds).
    static func integer(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        var i = 0, negative = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { negative = bytes[i] == UInt8(ascii: "-"); i += 1 }
        guard i < bytes.count else { return nil }
        var value: Int64 = 0
        while i < bytes.count {
            let d = bytes[i] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(Int64(d)) : m.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            value = s
            i += 1
        }
        return value
    }

    /// Seconds as a float (OpenMetrics timestamps) to milliseconds, saturating at Int64's range.
    static func milliseconds(fromSeconds s: Double) -> Int64 {
        let ms = (s * 1000).rounded()
        if ms >= 9.2e18 { return Int64.max }
        if ms <= -9.2e18 { return Int64.min }
        return Int64(ms)
    }

    static func isDecimal(_ b: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
        var digits = 0
        while i < b.count, b[i] &- UInt8(ascii: "0") < 10 { i += 1; digits += 1 }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            while i < b.count, b[i] &- UInt8(ascii: "0") < 10 { i += 1; digits += 1 }
        }
        guard digits > 0 else { return false }
        if i < b.count, b[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            var e = 0
            while i < b.count, b[i] &- UInt8(ascii: "0") < 10 { i += 1; e += 1 }
            guard e > 0 else { return false }
        }
        return i == b.count
    }

    static func special(_ b: UnsafeRawBufferPointer, strict: Bool) -> Double? {
        func equals(_ word: StaticString) -> Bool {
            guard word.utf8CodeUnitCount == b.count else { return false }
            let w = UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
            for i in 0..<b.count where strict ? w[i] != b[i] : (w[i] | 0x20) != (b[i] | 0x20) { return false }
            return true
        }
        if equals("NaN") { return .nan }
        if equals("+Inf") || equals("Inf") { return .infinity }
        if equals("-Inf") { return -.infinity }
        if !strict {
            if equals("+Infinity") || equals("Infinity") { return .infinity }
            if equals("-Infinity") { return -.infinity }
        }
        return nil
    }

    /// strtod on a NUL-terminated copy (the grammar was checked, so hex and words cannot slip in).
    static func convert(_ b: UnsafeRawBufferPointer) -> Double? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: b.count + 1) { buf -> Double? in
            guard let base = buf.baseAddress else { return nil }
            for i in 0..<b.count { buf[i] = CChar(bitPattern: b[i]) }
            buf[b.count] = 0
            return strtod(base, nil)
        }
    }
}
