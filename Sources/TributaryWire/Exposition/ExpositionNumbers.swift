import Glibc

/// Number syntax of the two formats, checked on bytes before conversion.
enum ExpositionNumbers {
    /// A float: `[+-]?(digits[.digits]|.digits)([eE][+-]?digits)?`, or the infinity and NaN
    /// words. OpenMetrics spells those exactly (`+Inf`, `-Inf`, `Inf`, `NaN`); text 0.0.4 takes
    /// any case, as Go's ParseFloat does.
    static func float(_ bytes: UnsafeRawBufferPointer, strictWords: Bool) -> Double? {
        guard !bytes.isEmpty else { return nil }
        // Most values are plain decimals: converted in one pass, the rest checked in full.
        if let plain = convertSimple(bytes) { return plain }
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
    /// Powers of ten a Double holds exactly.
    static let exactPowersOfTen: [Double] = (0...22).map { p in (0..<p).reduce(1.0) { x, _ in x * 10 } }

    static func convert(_ b: UnsafeRawBufferPointer) -> Double? {
        if let fast = convertSimple(b) { return fast }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: b.count + 1) { buf -> Double? in
            guard let base = buf.baseAddress else { return nil }
            for i in 0..<b.count { buf[i] = CChar(bitPattern: b[i]) }
            buf[b.count] = 0
            return strtod(base, nil)
        }
    }

    /// `[-+]digits[.digits]` whose digits fit a Double's 53-bit mantissa, with at most 22
    /// after the point: the integer and the power of ten are exact, so one division is the
    /// correctly rounded value, the same as strtod's (Clinger's fast path). Nil otherwise, and
    /// for text that is not such a number (no digit, a second point): a non-nil answer is also
    /// a syntax check.
    static func convertSimple(_ b: UnsafeRawBufferPointer) -> Double? {
        var i = 0, negative = false
        if i < b.count, b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+") { negative = b[i] == UInt8(ascii: "-"); i += 1 }
        guard i < b.count else { return nil }
        var mantissa: UInt64 = 0, digits = 0, fraction = 0, point = false, sawDigit = false
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: ".") {
                guard !point else { return nil }
                point = true
            } else {
                let d = c &- UInt8(ascii: "0")
                guard d < 10, digits < 19 else { return nil }
                sawDigit = true
                mantissa = mantissa &* 10 &+ UInt64(d)
                if mantissa > 0 { digits += 1 }
                if point { fraction += 1 }
            }
            i += 1
        }
        guard sawDigit, mantissa <= 1 << 53, fraction <= 22 else { return nil }
        let value = Double(mantissa) / exactPowersOfTen[fraction]
        return negative ? -value : value
    }
}
