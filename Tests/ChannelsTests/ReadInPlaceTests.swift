// readBatch(upTo:armingWhenDrained:visit:): values read where they lie in the ring, in one lock.
import Testing
@testable import Channels

@Suite struct ReadInPlaceTests {
    @Test func visitsEachValueInOrderWithItsPositionAndArmsWhenThatDrainsIt() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 16, retention: BroadcastRetention(count: 16))
        for value in 10..<15 { tx.send(value) }
        let waker = CountingWaker()
        var seen: [(Int, UInt64)] = []
        let batch = rx.readBatch(upTo: 3, armingWhenDrained: waker) { slot, position in
            seen.append((slot.pointee ?? -1, position))
            return true
        }
        #expect(batch == BroadcastBatch(count: 3))  // stopped by the limit: more is there, nothing armed
        #expect(seen.map(\.0) == [10, 11, 12] && seen.map(\.1) == [0, 1, 2])
        seen = []
        #expect(rx.readBatch(upTo: 8, armingWhenDrained: waker) { slot, position in
            seen.append((slot.pointee ?? -1, position))
            return true
        } == BroadcastBatch(count: 2, armed: true))
        #expect(seen.map(\.0) == [13, 14] && seen.map(\.1) == [3, 4])
        tx.send(15)
        #expect(waker.count == 1)
    }

    @Test func aVisitThatSaysStopLeavesThatValueUnreadAndArmsNothing() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 16, retention: BroadcastRetention(count: 16))
        for value in 0..<6 { tx.send(value) }
        let waker = CountingWaker()
        var taken: [Int] = []
        let batch = rx.readBatch(upTo: 6, armingWhenDrained: waker) { slot, _ in
            guard let value = slot.pointee, value != 3 else { return false }
            taken.append(value)
            return true
        }
        #expect(batch == BroadcastBatch(count: 3))
        #expect(taken == [0, 1, 2])
        #expect(try rx.tryRecv() == 3)  // the value it stopped at is the next one read
        tx.send(6)
        #expect(waker.count == 0)
    }

    @Test func aLagIsReportedBeforeAnyValueIsVisited() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 4, retention: BroadcastRetention(count: 4))
        for value in 0..<10 { tx.send(value) }
        var visits = 0
        let batch = rx.readBatch(upTo: 8, armingWhenDrained: CountingWaker()) { _, _ in
            visits += 1
            return true
        }
        #expect(batch == BroadcastBatch(lagged: 6))
        #expect(visits == 0)
        var rest: [Int] = []
        _ = rx.readBatch(upTo: 8, armingWhenDrained: CountingWaker()) { slot, _ in
            rest.append(slot.pointee ?? -1)
            return true
        }
        #expect(rest == [6, 7, 8, 9])
    }

    @Test func valuesAreNeitherCopiedOutNorReleasedByAVisitAndANonRetainingRingDropsThemAfterTheLastReader() throws {
        let counter = DeinitCounter()
        do {
            // Retaining: the ring keeps every value after it was visited.
            let (tx, rx) = try Broadcast.channel(of: Tracked.self, capacity: 8, retention: BroadcastRetention(count: 8))
            for value in 0..<4 { tx.send(Tracked(value, counter)) }
            var read: [Int] = []
            _ = rx.readBatch(upTo: 8, armingWhenDrained: CountingWaker()) { slot, _ in
                read.append(slot.pointee?.n ?? -1)
                return true
            }
            #expect(read == [0, 1, 2, 3])
            #expect(counter.value == 0)
        }
        #expect(counter.value == 4)
        let dropped = DeinitCounter()
        let (tx, first) = try Broadcast.channel(of: Tracked.self, capacity: 8)
        let second = tx.subscribe()
        for value in 0..<3 { tx.send(Tracked(value, dropped)) }
        _ = first.readBatch(upTo: 8, armingWhenDrained: CountingWaker()) { _, _ in true }
        #expect(dropped.value == 0)  // the second receiver still has them to read
        _ = second.readBatch(upTo: 8, armingWhenDrained: CountingWaker()) { _, _ in true }
        #expect(dropped.value == 3)
    }
}
