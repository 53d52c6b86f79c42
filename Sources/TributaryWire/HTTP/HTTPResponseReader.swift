/// Reads one HTTP/1.1 response from bytes as they arrive: status line, headers, and a body
/// framed by Content-Length, chunked transfer coding, or the end of the connection. Only what
/// scrapes and remote writes need is kept (status, Content-Type, Content-Encoding,
/// Retry-After, keep-alive); the body is collected into one array, refused as soon as it would
/// pass `maxBody`.
public struct HTTPResponseReader: Sendable {
    public enum State: Equatable, Sendable {
        case head
        case fixed(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailer
        case untilClose
        case done
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        /// The connection closed before any byte of a response: a kept-alive connection the
        /// server had closed, on which the request may be sent again.
        public var beforeResponse = false

        public init(description: String, beforeResponse: Bool = false) {
            self.description = description
            self.beforeResponse = beforeResponse
        }
    }

    public static let maxHeadBytes = 64 << 10
    static let maxLineBytes = 4096

    public private(set) var state = State.head
    public private(set) var status = 0
    public private(set) var reason = ""
    public private(set) var contentType: String?
    public private(set) var contentEncoding: String?
    public private(set) var retryAfter: String?
    /// Remote write 2.0's `X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written`
    /// (nil when absent or not a number).
    public private(set) var samplesWritten: Int?
    public private(set) var histogramsWritten: Int?
    public private(set) var exemplarsWritten: Int?
    /// Whether the connection can carry the next request.
    public private(set) var keepAlive = true
    public var body: [UInt8] = []
    public let maxBody: Int
    private var head: [UInt8] = []
    private var line: [UInt8] = []

    public init(maxBody: Int, expectedBody: Int = 0) {
        self.maxBody = maxBody
        body.reserveCapacity(min(expectedBody, maxBody))
    }

    public var isComplete: Bool { state == .done }

    /// Consumes `bytes`; returns how many belong to this response (the rest would be the next
    /// one's, which a scrape never asks for).
    @discardableResult
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> Int {
        var i = 0
        while i < bytes.count {
            switch state {
            case .head:
                i = try readHead(bytes, from: i)
            case .fixed(let remaining):
                let left = takeBody(bytes, &i, remaining)
                state = left == 0 ? .done : .fixed(remaining: left)
            case .chunkSize:
                guard let text = try readLine(bytes, &i) else { continue }
                let size = try Self.chunkSize(text)
                guard size <= maxBody - body.count else { throw tooLarge() }
                state = size == 0 ? .trailer : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let left = takeBody(bytes, &i, remaining)
                state = left == 0 ? .chunkDataEnd : .chunkData(remaining: left)
            case .chunkDataEnd:
                guard let text = try readLine(bytes, &i) else { continue }
                guard text.isEmpty else { throw Failure(description: "chunked body: chunk data longer than its size") }
                state = .chunkSize
            case .trailer:
                guard let text = try readLine(bytes, &i) else { continue }
                if text.isEmpty { state = .done }
            case .untilClose:
                guard bytes.count - i <= maxBody - body.count else { throw tooLarge() }
                body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i...]))
                i = bytes.count
            case .done:
                return i
            }
        }
        return i
    }

    /// Appends up to `remaining` body bytes from `i`; returns how many are still to come.
    private mutating func takeBody(_ bytes: UnsafeRawBufferPointer, _ i: inout Int, _ remaining: Int) -> Int {
        let n = min(remaining, bytes.count - i)
        body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<i + n]))
        i += n
        return remaining - n
    }

    /// The connection closed: completes a body read until the end; anything else was cut short.
    public mutating func closed() throws(Failure) {
        switch state {
        case .done: return
        case .untilClose: state = .done
        case .head where head.isEmpty && status == 0: throw Failure(description: "connection closed before a response", beforeResponse: true)
        default: throw Failure(description: "connection closed before the response ended")
        }
    }

    private func tooLarge() -> Failure {
        Failure(description: "body larger than the limit of \(maxBody) bytes")
    }

    // MARK: head

    private mutating func readHead(_ bytes: UnsafeRawBufferPointer, from start: Int) throws(Failure) -> Int {
        // The end of the head is the first empty line; it may straddle reads.
        let searchFrom = max(0, head.count - 3)
        let take = min(bytes.count - start, Self.maxHeadBytes + 4 - head.count)
        head.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<start + take]))
        guard let end = Self.headEnd(head, from: searchFrom) else {
            if head.count > Self.maxHeadBytes { throw Failure(description: "response head longer than \(Self.maxHeadBytes) bytes") }
            return start + take
        }
        let consumed = start + take - (head.count - end)
        try parseHead(head[..<end])
        head.removeAll(keepingCapacity: true)
        return consumed
    }

    /// The index just past the blank line (CRLF CRLF, or bare LF LF) ending the head.
    static func headEnd(_ b: [UInt8], from: Int) -> Int? {
        var i = from
        while i < b.count {
            if b[i] == 10 {
                if i + 1 < b.count, b[i + 1] == 10 { return i + 2 }
                if i + 2 < b.count, b[i + 1] == 13, b[i + 2] == 10 { return i + 3 }
            }
            i += 1
        }
        return nil
    }

    /// The status line and the headers kept, read on bytes: a header costs a String only when
    /// it is one of those kept.
    private mutating func parseHead(_ bytes: ArraySlice<UInt8>) throws(Failure) {
        var start = bytes.startIndex, number = 0
        var contentLength: Int?
        var chunked = false
        while start < bytes.endIndex {
            var end = bytes[start...].firstIndex(of: 10) ?? bytes.endIndex
            let next = end < bytes.endIndex ? end + 1 : end
            if end > start, bytes[end - 1] == 13 { end -= 1 }
            let line = bytes[start..<end]
            start = next
            number += 1
            if number == 1 {
                try parseStatusLine(line)
                continue
            }
            // The blank line that ends the head.
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: 58), colon > line.startIndex else {
                throw Failure(description: "malformed header line \(number): \"\(Self.printable(Array(line)))\"")
            }
            let name = line[..<colon], raw = line[(colon + 1)...]
            if Self.isName(name, "content-length") {
                let value = Self.trimmed(raw)
                guard let v = Int(value), v >= 0, contentLength == nil || contentLength == v else {
                    throw Failure(description: "bad Content-Length \"\(value)\"")
                }
                contentLength = v
            } else if Self.isName(name, "transfer-encoding") {
                chunked = Self.trimmed(raw).lowercased().split(separator: ",").last.map { String($0).trimmingSpaces == "chunked" } ?? false
            } else if Self.isName(name, "content-type") {
                contentType = Self.trimmed(raw)
            } else if Self.isName(name, "content-encoding") {
                contentEncoding = Self.trimmed(raw).lowercased()
            } else if Self.isName(name, "retry-after") {
                retryAfter = Self.trimmed(raw)
            } else if Self.isName(name, "x-prometheus-remote-write-samples-written") {
                samplesWritten = Int(Self.trimmed(raw))
            } else if Self.isName(name, "x-prometheus-remote-write-histograms-written") {
                histogramsWritten = Int(Self.trimmed(raw))
            } else if Self.isName(name, "x-prometheus-remote-write-exemplars-written") {
                exemplarsWritten = Int(Self.trimmed(raw))
            } else if Self.isName(name, "connection") {
                let tokens = Self.trimmed(raw).lowercased().split(separator: ",").map { String($0).trimmingSpaces }
                if tokens.contains("close") { keepAlive = false }
                if tokens.contains("keep-alive") { keepAlive = true }
            }
        }
        if (100..<200).contains(status) {
            // An interim response (100 Continue): the real one follows.
            contentType = nil
            contentEncoding = nil
            state = .head
            return
        }
        if status == 204 || status == 304 {
            state = .done
        } else if chunked {
            state = .chunkSize
        } else if let contentLength {
            guard contentLength <= maxBody else { throw tooLarge() }
            body.reserveCapacity(contentLength)
            state = contentLength == 0 ? .done : .fixed(remaining: contentLength)
        } else {
            keepAlive = false
            state = .untilClose
        }
    }

    /// `HTTP/1.x SP 3DIGIT [SP reason]`.
    private mutating func parseStatusLine(_ line: ArraySlice<UInt8>) throws(Failure) {
        let statusLine = Array(line)
        guard statusLine.count >= 12, statusLine.starts(with: Array("HTTP/1.".utf8)), statusLine[8] == 32,
            statusLine[9...11].allSatisfy({ (48...57).contains($0) }), statusLine.count == 12 || statusLine[12] == 32
        else { throw Failure(description: "malformed status line \"\(Self.printable(statusLine))\"") }
        status = statusLine[9...11].reduce(0) { $0 * 10 + Int($1 - 48) }
        reason = String(decoding: statusLine.dropFirst(13), as: UTF8.self)
        keepAlive = statusLine[7] != 48
    }

    /// Whether a header name is `lower`, ignoring ASCII case.
    static func isName(_ name: ArraySlice<UInt8>, _ lower: StaticString) -> Bool {
        guard name.count == lower.utf8CodeUnitCount else { return false }
        var k = 0
        for c in name {
            let folded = c &- 65 < 26 ? c | 0x20 : c
            guard folded == lower.utf8Start[k] else { return false }
            k += 1
        }
        return true
    }

    /// A header value without HTTP's optional whitespace around it.
    static func trimmed(_ raw: ArraySlice<UInt8>) -> String {
        var from = raw.startIndex, to = raw.endIndex
        while from < to, raw[from] == 32 || raw[from] == 9 { from += 1 }
        while to > from, raw[to - 1] == 32 || raw[to - 1] == 9 { to -= 1 }
        return String(decoding: raw[from..<to], as: UTF8.self)
    }

    // MARK: chunked framing

    /// A CRLF-terminated line (without it), or nil when it has not all arrived.
    private mutating func readLine(_ bytes: UnsafeRawBufferPointer, _ i: inout Int) throws(Failure) -> [UInt8]? {
        while i < bytes.count {
            let b = bytes[i]
            i += 1
            if b == 10 {
                if line.last == 13 { line.removeLast() }
                defer { line.removeAll(keepingCapacity: true) }
                return line
            }
            line.append(b)
            if line.count > Self.maxLineBytes { throw Failure(description: "chunked body: line longer than \(Self.maxLineBytes) bytes") }
        }
        return nil
    }

    /// The hex size of a chunk-size line (extensions after `;` ignored).
    static func chunkSize(_ line: [UInt8]) throws(Failure) -> Int {
        var size = 0, digits = 0
        for b in line {
            let d: Int
            switch b {
            case 48...57: d = Int(b - 48)
            case 97...102: d = Int(b - 87)
            case 65...70: d = Int(b - 55)
            case 59, 32, 9:  // `;` extensions, or whitespace before them
                guard digits > 0 else { throw Failure(description: "chunked body: bad chunk size \"\(printable(line))\"") }
                return size
            default:
                throw Failure(description: "chunked body: bad chunk size \"\(printable(line))\"")
            }
            guard digits < 15 else { throw Failure(description: "chunked body: chunk size too large") }
            size = size * 16 + d
            digits += 1
        }
        guard digits > 0 else { throw Failure(description: "chunked body: empty chunk size line") }
        return size
    }

    static func printable(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.prefix(80).map { (32..<127).contains($0) ? $0 : 63 }, as: UTF8.self)
    }
}
