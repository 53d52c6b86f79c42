import CZlib
import Testing
import TributaryWire

/// Gzip answers, also when they carry fragments compressed earlier: what a client inflates
/// equals what was written, byte for byte, and the trailer's CRC checks out (zlib verifies it).
@Suite struct GzipTests {
    /// JSON-like text with the repetition of a range answer, different for each seed.
    static func text(_ seed: Int, _ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        var x = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1
        while out.count < count {
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            out.append(contentsOf: ",[\(1_796_100_000 + out.count),\"\(x % 100_000)\"]".utf8)
        }
        return Array(out.prefix(count))
    }

    @Test func fragmentsBetweenStreamedPartsInflateToTheWhole() throws {
        let stream = GzipStream()
        var gz: [UInt8] = []
        var plain: [UInt8] = []
        // Raw parts and fragments in every order: two fragments in a row, a fragment first,
        // an empty raw part, sizes across ISA-L's 64 KB output block.
        let parts: [(raw: Bool, bytes: [UInt8])] = [
            (false, Self.text(1, 1200)), (true, Self.text(2, 100)), (false, Self.text(3, 2400)), (false, Self.text(4, 5)),
            (true, []), (false, Self.text(5, 200_000)), (true, Self.text(6, 300_000)), (false, Self.text(7, 1))
        ]
        for (raw, bytes) in parts {
            plain += bytes
            if raw {
                #expect(stream.append(bytes, to: &gz))
            } else {
                let fragment = try #require(DeflateFragment(bytes[...]))
                #expect(fragment.length == bytes.count)
                #expect(stream.append(fragment, to: &gz))
            }
        }
        #expect(stream.finish(to: &gz))
        let inflated = try Gunzip.inflate(gz, limit: 10_000_000)
        #expect(inflated.count == plain.count)
        #expect(inflated == plain)
    }

    @Test func aFragmentCarriesItsBytesCRC() throws {
        let bytes = Self.text(9, 5000)
        let fragment = try #require(DeflateFragment(bytes[...]))
        let zlib = bytes.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) }
        #expect(fragment.crc == zlib)
        #expect(fragment.bytes.count < bytes.count / 2, "it is compressed")
    }

    /// Fragments joined into one inflate, inside a stream, to their texts in order, and the
    /// joined one carries their CRC and length; an empty list joins to nothing.
    @Test func joinedFragmentsAreTheirTextsInOrder() throws {
        let texts = [Self.text(60, 3000), Self.text(61, 40), Self.text(62, 900), Self.text(63, 1)]
        var fragments: [DeflateFragment] = []
        for text in texts { fragments.append(try #require(DeflateFragment(text[...]))) }
        let joined = try #require(DeflateFragment.joined(fragments))
        let plain = texts.reduce([], +)
        #expect(joined.length == plain.count)
        #expect(joined.crc == plain.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) })
        let stream = GzipStream()
        var gz: [UInt8] = []
        let before = Self.text(64, 500)
        #expect(stream.append(before, to: &gz))
        #expect(stream.append(joined, to: &gz))
        #expect(stream.append(joined, to: &gz))
        #expect(stream.finish(to: &gz))
        #expect(try Gunzip.inflate(gz, limit: 10_000_000) == before + plain + plain)
        #expect(DeflateFragment.joined([]) == nil)
    }

    /// A part put together from plain bytes and fragments is one fragment: inside a stream it
    /// inflates to its pieces in order, and it carries their CRC and length.
    @Test func aBuiltFragmentIsItsPiecesInOrder() throws {
        let builder = FragmentBuilder(capacity: 1024)
        var plain: [UInt8] = []
        // Plain first, two fragments in a row, an empty plain piece, a stored piece followed by a
        // compressed one, plain last.
        let pieces: [(raw: Bool, bytes: [UInt8])] = [
            (true, Self.text(21, 700)), (false, Self.text(22, 3000)), (false, Self.text(23, 40)), (true, []),
            (true, Self.text(24, 90_000)), (false, Self.text(25, 800)), (true, Self.text(28, 300)), (true, Self.text(34, 1500)), (false, Self.text(29, 900)),
            (true, Self.text(26, 3))
        ]
        for (raw, bytes) in pieces {
            plain += bytes
            if raw {
                #expect(builder.append(bytes[...]))
            } else {
                builder.append(try #require(DeflateFragment(bytes[...])))
            }
        }
        let built = try #require(builder.finish())
        #expect(built.length == plain.count)
        #expect(built.crc == plain.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) })
        let stream = GzipStream()
        var gz: [UInt8] = []
        let before = Self.text(27, 500)
        #expect(stream.append(before, to: &gz))
        #expect(stream.append(built, to: &gz))
        #expect(stream.append(before, to: &gz))
        #expect(stream.finish(to: &gz))
        #expect(try Gunzip.inflate(gz, limit: 10_000_000) == before + plain + before)
        #expect(FragmentBuilder(capacity: 0).finish() == nil, "nothing appended, nothing built")
    }

    /// A built part shares the bytes of fragments of ``FragmentBuilder/sharedFragment`` bytes or
    /// more instead of copying them, and copies smaller ones; either way it inflates to the
    /// whole.
    @Test func largeFragmentsAreSharedAndSmallOnesCopied() throws {
        let large = try #require(DeflateFragment(Self.text(40, 20_000)[...]))
        let small = try #require(DeflateFragment(Self.text(41, 60)[...]))
        #expect(large.bytes.count >= FragmentBuilder.sharedFragment && small.bytes.count < FragmentBuilder.sharedFragment)
        let builder = FragmentBuilder(capacity: 1024)
        builder.append(small)
        builder.append(large)
        #expect(builder.append(Self.text(42, 100)[...]))
        builder.append(large)
        builder.append(small)
        let built = try #require(builder.finish())
        #expect(built.sharedCount == 2, "the large fragment twice, shared")
        #expect(built.byteCount == built.joinedBytes.count)
        #expect(built.joinedBytes.count == 2 * (large.bytes.count + small.bytes.count) + 5 + 100, "every byte once, the plain piece stored")
        let stream = GzipStream()
        var gz: [UInt8] = []
        #expect(stream.append(built, to: &gz))
        #expect(stream.finish(to: &gz))
        let plain = Self.text(41, 60) + Self.text(40, 20_000) + Self.text(42, 100) + Self.text(40, 20_000) + Self.text(41, 60)
        #expect(try Gunzip.inflate(gz, limit: 10_000_000) == plain)
    }

    /// A part built earlier can itself be appended to a builder (its pieces copied in): the
    /// result inflates to the whole, with its CRC and length.
    @Test func aBuiltPartInsideAnotherInflatesToTheWhole() throws {
        let inner = FragmentBuilder(capacity: 1024)
        #expect(inner.append(Self.text(50, 700)[...]))
        inner.append(try #require(DeflateFragment(Self.text(51, 20_000)[...])))
        let part = try #require(inner.finish())
        #expect(part.sharedCount == 1)
        let outer = FragmentBuilder(capacity: 1024)
        #expect(outer.append(Self.text(52, 300)[...]))
        outer.append(.pieces(part))
        outer.append(.fragment(try #require(DeflateFragment(Self.text(53, 900)[...]))))
        let built = try #require(outer.finish())
        let plain = Self.text(52, 300) + Self.text(50, 700) + Self.text(51, 20_000) + Self.text(53, 900)
        #expect(built.length == plain.count)
        #expect(built.crc == plain.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) })
        let stream = GzipStream()
        var gz: [UInt8] = []
        #expect(stream.append(built, to: &gz))
        #expect(stream.finish(to: &gz))
        #expect(try Gunzip.inflate(gz, limit: 10_000_000) == plain)
    }

    /// A tiny piece is stored (copied, not compressed), a small one coded with deflate's fixed
    /// code (no tables built or sent), a large one with a dynamic code: the first block
    /// header's type bits say which.
    @Test func smallPiecesUseTheFixedCodeAndTinyOnesAreStored() throws {
        func firstBlockType(_ bytes: [UInt8]) throws -> UInt8 {
            let builder = FragmentBuilder(capacity: 1024)
            #expect(builder.append(bytes[...]))
            let built = try #require(builder.finish())
            return (try #require(built.joinedBytes.first) >> 1) & 0b11
        }
        #expect(try firstBlockType(Self.text(30, FragmentBuilder.storedPiece - 1)) == 0b00, "stored")
        #expect(try firstBlockType(Self.text(33, FragmentBuilder.storedPiece)) == 0b01, "fixed code")
        #expect(try firstBlockType(Self.text(31, FragmentBuilder.smallPiece - 1)) == 0b01, "fixed code")
        #expect(try firstBlockType(Self.text(32, FragmentBuilder.smallPiece * 4)) == 0b10, "dynamic code")
    }

    @Test func aWholeAnswerRoundTrips() throws {
        let body = Self.text(11, 700_000)
        let gz = try #require(Gzip.compress(body))
        #expect(try Gunzip.inflate(gz, limit: 10_000_000) == body)
    }
}
