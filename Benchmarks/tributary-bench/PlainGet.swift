import Foundation
import TributaryWire

#if canImport(Glibc)
    import Glibc
#endif

/// A GET over a plain socket, timed from connect to the answer's last byte, asking gzip as
/// Grafana does. Why not `Data(contentsOf:)`: FoundationNetworking added 10–25 ms of its own
/// to a 1 MB answer (measured beside curl on the same server), more than some answers cost
/// the server; the comparison is of servers, so the client should cost next to nothing. The
/// answer is inflated and checked after the clock stops (inflating 9 MB takes zlib ~25 ms in
/// any client, for every server alike).
enum PlainGet {
    struct Answer {
        let milliseconds: Double
        /// The body as sent (compressed or not) and as JSON.
        let wireBytes: Int
        let body: [UInt8]
    }

    static func get(port: Int, path: String) -> Answer? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let start = Date()
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else { return nil }
        var raw: [UInt8] = []
        raw.reserveCapacity(1 << 20)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            raw.append(contentsOf: buffer[0..<n])
        }
        let milliseconds = Date().timeIntervalSince(start) * 1000
        guard let headerEnd = find(raw, Array("\r\n\r\n".utf8)) else { return nil }
        let head = String(decoding: raw[0..<headerEnd], as: UTF8.self).lowercased()
        var body = Array(raw[(headerEnd + 4)...])
        if head.contains("transfer-encoding: chunked") { body = dechunk(body) }
        let wire = body.count
        if head.contains("content-encoding: gzip") {
            guard let inflated = try? Gunzip.inflate(body, limit: 1 << 30) else { return nil }
            body = inflated
        }
        return Answer(milliseconds: milliseconds, wireBytes: wire, body: body)
    }

    /// Where `needle` first occurs in `haystack` at or after `start`. A plain loop over the
    /// bytes: the standard library's `ranges(of:)` took ~1.2 s to count the series of a 9 MB
    /// answer, this ~6 ms.
    static func find(_ haystack: [UInt8], _ needle: [UInt8], from start: Int = 0) -> Int? {
        guard let first = needle.first, haystack.count >= needle.count, start >= 0 else { return nil }
        var i = start
        while i <= haystack.count - needle.count {
            if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    /// The body of a chunked transfer.
    static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            var lineEnd = i
            while lineEnd + 1 < bytes.count, !(bytes[lineEnd] == 13 && bytes[lineEnd + 1] == 10) { lineEnd += 1 }
            let sizeText = String(decoding: bytes[i..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size > 0 else { break }
            let start = lineEnd + 2
            guard start + size <= bytes.count else { break }
            out.append(contentsOf: bytes[start..<(start + size)])
            i = start + size + 2
        }
        return out
    }
}
