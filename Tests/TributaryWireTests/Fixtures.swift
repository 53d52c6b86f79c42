import Foundation
import Testing

/// Reads committed fixture files (recorded by scripts/capture-fixtures).
enum Fixtures {
    static var folder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    static func names(prefix: String, sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
        let all = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let names = all.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".bin") }.sorted()
        #expect(!names.isEmpty, "no fixtures \(prefix)*.bin in \(folder.path)", sourceLocation: sourceLocation)
        return names
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: folder.appendingPathComponent(name)))
    }

    static func text(_ name: String) throws -> String {
        try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
    }
}
