/// A write-ahead log failure, naming the file and offset concerned.
public struct WALError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case io
        case corrupt
    }

    public var code: Code
    public var message: String
    public var segment: Int?
    public var offset: Int?

    public init(_ code: Code, _ message: String, segment: Int? = nil, offset: Int? = nil) {
        self.code = code
        self.message = message
        self.segment = segment
        self.offset = offset
    }

    public var description: String { message }

    public static func io(_ what: String, _ path: String, errno: Int32) -> WALError {
        WALError(.io, "\(what) \(path): \(String(cString: strerror(errno)))")
    }
}

#if canImport(Glibc)
    import Glibc
#endif
