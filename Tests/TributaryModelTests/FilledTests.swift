import Testing
import TributaryModel

/// `Array.filled(_:count:)` makes what `Array(repeating:count:)` makes.
@Suite struct FilledTests {
    @Test func equalsRepeating() {
        for count in [0, 1, 2, 7, 241, 4_097] {
            #expect([Double].filled(-1.5, count: count) == [Double](repeating: -1.5, count: count), "\(count) doubles")
            #expect([Bool].filled(true, count: count) == [Bool](repeating: true, count: count), "\(count) booleans")
            #expect([String].filled("a", count: count) == [String](repeating: "a", count: count), "\(count) strings")
        }
    }

    @Test func holdsRoomForItsElementsOnly() {
        let made = [Int].filled(3, count: 100)
        #expect(made.count == 100)
        #expect(made.capacity >= 100)
        #expect([Int].filled(3, count: 0).capacity == 0, "an empty one allocates nothing")
    }
}
