import Foundation
import TributaryModel
import TributaryWAL

@testable import TributaryTSDB

/// A fresh temporary directory, removed by `cleanup()`.
struct TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "tributary-test-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

extension Querier {
    /// All samples of the series matching `matchers`, by labels, for assertions.
    func dump(_ matchers: [Matcher], start: Int64 = .min, end: Int64 = .max) throws -> [Labels: [Sample]] {
        var out: [Labels: [Sample]] = [:]
        for s in try select(matchers, start: start, end: end) {
            var it = s.makeIterator()
            var samples: [Sample] = []
            while let x = it.next() { samples.append(x) }
            out[s.labels] = samples
        }
        return out
    }
}

func m(_ name: String, _ type: Matcher.MatchType, _ value: String) -> Matcher {
    // Test matchers are literals written in the test; a bad one is a bug in the test.
    try! Matcher(type, name, value)
}

/// A WAL in `dir/wal`.
func TributaryWALOpen(_ dir: String) throws -> WAL {
    try WAL(directory: dir + "/wal")
}
