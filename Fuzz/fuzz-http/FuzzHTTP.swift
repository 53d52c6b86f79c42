import Foundation
import FuzzSupport
import TributaryWire

// libFuzzer target for what a scrape or a remote-write answer brings in: the HTTP/1.1 response
// reader, fed in pieces (the first byte picks their size), then the gzip inflater on the body
// when the response says so. A crash, a trap or a hang is a finding; so is a body over its
// limit, more bytes consumed than given, or a different result for a different split.
// Built by scripts/fuzz with -D FUZZING; a normal build gives a replay tool.

func read(_ bytes: UnsafeRawBufferPointer, step: Int) -> Result<HTTPResponseReader, HTTPResponseReader.Failure> {
    var reader = HTTPResponseReader(maxBody: 4096)
    var i = 0
    do throws(HTTPResponseReader.Failure) {
        while i < bytes.count, !reader.isComplete {
            let end = min(i + step, bytes.count)
            let used = try reader.feed(UnsafeRawBufferPointer(rebasing: bytes[i..<end]))
            precondition(used <= end - i, "consumed more than given")
            i += used
            if i < end { break }
        }
        if !reader.isComplete { try reader.closed() }
    } catch {
        return .failure(error)
    }
    precondition(reader.body.count <= reader.maxBody, "body over its limit")
    return .success(reader)
}

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    guard let first = data.first else { return }
    let bytes = UnsafeRawBufferPointer(rebasing: data.dropFirst())
    let whole = read(bytes, step: max(bytes.count, 1))
    let pieces = read(bytes, step: Int(first % 16) + 1)
    switch (whole, pieces) {
    case (.success(let a), .success(let b)):
        precondition(a.body == b.body && a.status == b.status && a.keepAlive == b.keepAlive, "the split changed the response")
        if a.contentEncoding == "gzip", let inflated = try? Gunzip.inflate(a.body, limit: 1 << 16) {
            precondition(inflated.count <= 1 << 16, "inflated over its limit")
        }
    case (.failure, .failure):
        break
    default:
        preconditionFailure("the split changed whether the response reads")
    }
}

#if FUZZING
    @_cdecl("fuzz_http_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        runFuzzer(argc, argv, fuzzOne)
    }
#else
    /// `fuzz-http seeds DIR` writes a few responses (each after a split byte); `fuzz-http FILE…`
    /// replays inputs.
    @main
    struct FuzzReplay {
        static let seeds = [
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: 5\r\n\r\nup 1\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nup 1\r\n1;x=y\r\n\n\r\n0\r\nT: v\r\n\r\n",
            "HTTP/1.0 200 OK\nConnection: keep-alive\n\nup 1\n",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 429 Too Many\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 25\r\n\r\n\u{1f}\u{8b}\u{8}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{3}+-P0\u{e4}\u{2}\u{0}\u{b8}\u{ea}\u{96}\u{a4}\u{5}\u{0}\u{0}\u{0}"
        ]

        static func main() throws {
            try replay(
                seeds: { folder in
                    for (n, seed) in seeds.enumerated() {
                        let bytes = [UInt8(n * 3)] + seed.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
                        try Data(bytes).write(to: folder.appendingPathComponent("seed-\(n)"))
                    }
                    return seeds.count
                }, fuzzOne)
        }
    }
#endif
