import Testing
import TributaryModel

@testable import TributaryPromQL

/// Label sets whose hashes collide are still told apart by their bytes, and a set seen
/// before gets its number back wherever it sits in the chain. Real label sets do not collide
/// under ``StableHash`` in tests, so a hash that answers the same for every set forces them
/// all into one chain, and one that answers by length into a few.
@Suite struct LabelSetIndexTests {
    enum OneBucket: LabelSetHash {
        static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 { 7 }
    }

    enum ByLength: LabelSetHash {
        static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 { UInt64(bytes.count) }
    }

    static let sets: [Labels] =
        ["a", "b", "c", "aa", "ab", "abc"].flatMap { v in
            [Labels(sortedPairs: [("group", v)]), Labels(sortedPairs: [("group", v), ("job", "node")])]
        } + [.empty]

    @Test(arguments: [0, 1, 2])
    func collidingSetsKeepTheirOwnNumbers(hash: Int) {
        switch hash {
        case 0: check(LabelSetIndex<OneBucket>())
        case 1: check(LabelSetIndex<ByLength>())
        default: check(LabelSetIndex<StableLabelHash>())
        }
    }

    /// Enough sets to make the table grow several times (from 16 slots, never over half
    /// full), each found again after the growths.
    @Test(arguments: [0, 1, 2])
    func setsAreFoundAgainAfterTheTableGrows(hash: Int) {
        let many = (0..<300).map { Labels(sortedPairs: [("instance", "host-\($0)")]) }
        func run<H: LabelSetHash>(_ empty: LabelSetIndex<H>) {
            var index = empty
            #expect(many.map { index.number(of: $0.bytes).number } == Array(many.indices))
            #expect(many.map { index.number(of: $0.bytes) }.allSatisfy { !$0.isNew })
            #expect(index.sets == many)
        }
        switch hash {
        case 0: run(LabelSetIndex<OneBucket>())
        case 1: run(LabelSetIndex<ByLength>())
        default: run(LabelSetIndex<StableLabelHash>())
        }
    }

    func check<H: LabelSetHash>(_ empty: LabelSetIndex<H>) {
        var index = empty
        let first = Self.sets.map { index.number(of: $0.bytes) }
        #expect(first.map(\.number) == Array(Self.sets.indices))
        #expect(first.filter { !$0.isNew }.isEmpty)
        #expect(index.sets == Self.sets)
        // Again, in reverse: every set found, none added.
        for (i, s) in Self.sets.enumerated().reversed() {
            let again = index.number(of: s.bytes)
            #expect(again.number == i && !again.isNew, "\(s)")
        }
        #expect(index.sets.count == Self.sets.count)
    }
}
