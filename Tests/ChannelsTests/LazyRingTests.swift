// The broadcast ring allocates lazily: it grows only when a receiver falls behind.
import Testing
@testable import Channels

@Suite struct LazyRingTests {
    private func physical<T>(_ tx: BroadcastSender<T>) -> Int {
        tx.shared.state.withLock { $0.physical }
    }

    @Test func aRingWhoseReceiverKeepsUpStaysAtTwoSlots() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 1024)
        for value in 0..<10_000 {
            tx.send(value)
            #expect(try rx.tryRecv() == value)
        }
        #expect(physical(tx) == 2)
    }

    @Test func aRingGrowsToHoldWhatAReceiverHasNotReadAndNoFurther() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 64)
        for value in 0..<40 { tx.send(value) }
        #expect(physical(tx) == 64)
        for value in 0..<40 { #expect(try rx.tryRecv() == value) }
        for value in 40..<1000 { tx.send(value) }
        #expect(physical(tx) == 64)
        // 960 sent since the last read: 896 overwritten, then the 64 newest.
        #expect(throws: BroadcastTryRecvError.lagged(896)) { try rx.tryRecv() }
        for value in 936..<1000 { #expect(try rx.tryRecv() == value) }
        #expect(throws: BroadcastTryRecvError.empty) { try rx.tryRecv() }
    }

    @Test func growingKeepsEveryUnreadValueInOrderForEachReceiver() throws {
        let (tx, fast) = try Broadcast.channel(of: Int.self, capacity: 256)
        let slow = tx.subscribe()
        var next = 0
        for round in 0..<200 {
            for _ in 0..<(round % 7 + 1) {
                tx.send(next)
                next += 1
            }
            while let value = try? fast.tryRecv() { _ = value }
        }
        #expect(next <= 256 * 4)
        var expected = 0
        var lagged: UInt64 = 0
        while true {
            do {
                let value = try slow.tryRecv()
                #expect(value == expected)
                expected += 1
            } catch .lagged(let n) {
                lagged += n
                expected += Int(n)
            } catch .empty {
                break
            } catch {
                Issue.record("\(error)")
                break
            }
        }
        #expect(expected == next)
        #expect(lagged == UInt64(max(0, next - 256)))
    }
}
