// The API's page selection: the first k in order, the same as sorting everything and taking k.
import Testing
@testable import Broker

@Suite struct FirstInOrderTests {
    @Test(arguments: [0, 1, 2, 7, 100, 999, 1000, 1001, 5000])
    func theFirstKAreWhatASortOfAllGives(count: Int) {
        // Many ties on the key (as topics that all have max_lag 0), broken by a unique second
        // field; the keys scattered by a multiplication modulo a prime, a different way per count.
        let items = (0..<1000).map { index in (key: (index &* 7919 &+ count) % 1009 % 5, id: index) }
        let order: ((key: Int, id: Int), (key: Int, id: Int)) -> Bool = { a, b in a.key != b.key ? a.key > b.key : a.id < b.id }
        let expected = Array(items.sorted(by: order).prefix(count))
        let chosen = firstInOrder(items, count: count, by: order)
        #expect(chosen.map(\.id) == expected.map(\.id))
    }

    @Test func emptyAndShortInputs() {
        #expect(firstInOrder([Int](), count: 5, by: <).isEmpty)
        #expect(firstInOrder([3, 1, 2], count: 10, by: <) == [1, 2, 3])
        #expect(firstInOrder([3, 1, 2], count: -1, by: <).isEmpty)
    }

    @Test func namesCompareAsUnsignedBytesAPrefixFirst() {
        let names: [[UInt8]] = [[], [0x61], [0x61, 0x00], [0x61, 0x62], [0x62], [0xFF], [0x61, 0xFF]]
        for a in names {
            for b in names {
                #expect(bytesPrecede(a, b) == a.lexicographicallyPrecedes(b), "\(a) \(b)")
            }
        }
    }
}
