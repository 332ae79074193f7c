// The broadcast ring allocates lazily: it grows only when a receiver falls behind.
import Testing
@testable import Channels

@Suite struct LazyRingTests {
    private func physical<T>(_ tx: BroadcastSender<T>) -> Int {
        tx.shared.withLock { $0.physical }
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

    // No slot before the first send: a topic that only has subscribers costs no ring.

    @Test func aChannelAllocatesNoSlotBeforeItsFirstSend() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 1024)
        let late = tx.subscribe()
        #expect(physical(tx) == 0)
        #expect(throws: BroadcastTryRecvError.empty) { try rx.tryRecv() }
        #expect(rx.pendingCount == 0)
        #expect(tx.send(7) == 2)
        #expect(physical(tx) == 2)
        #expect(try rx.tryRecv() == 7)
        #expect(try late.tryRecv() == 7)
    }

    @Test func aChannelOfCapacityOneAllocatesOneSlot() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 1)
        #expect(physical(tx) == 0)
        tx.send(1)
        tx.send(2)
        #expect(physical(tx) == 1)
        #expect(throws: BroadcastTryRecvError.lagged(1)) { try rx.tryRecv() }
        #expect(try rx.tryRecv() == 2)
    }

    @Test func everyOperationOnAnUnallocatedRetainingRingSeesNothingHeld() throws {
        let account = BroadcastByteAccount()
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 64,
                                             retention: BroadcastRetention(count: 64, account: account))
        #expect(physical(tx) == 0)
        #expect(tx.positions == BroadcastPositions(tail: 0, oldest: 0, heldBytes: 0))
        #expect(tx.trim(toBytes: 0) == 0)
        let fromStart = tx.subscribe(.position(0))
        let newest = tx.subscribe(.last(5))
        #expect(throws: BroadcastTryRecvError.empty) { try newest.tryRecv() }
        // Skipping numbers positions without holding anything: readers behind see the gap as lag.
        #expect(tx.skip(to: 10))
        #expect(physical(tx) == 0)
        #expect(tx.positions == BroadcastPositions(tail: 10, oldest: 10, heldBytes: 0))
        #expect(throws: BroadcastTryRecvError.lagged(10)) { try fromStart.tryRecv() }
        #expect(throws: BroadcastTryRecvError.empty) { try fromStart.tryRecv() }
        // The first send after the skip allocates and takes position 10.
        #expect(tx.sendLocated(42, weight: 3).position == 10)
        #expect(physical(tx) == 2)
        #expect(account.bytes == 3)
        #expect(try fromStart.tryRecv() == 42)
        #expect(throws: BroadcastTryRecvError.lagged(10)) { try rx.tryRecv() }
        #expect(try rx.tryRecv() == 42)
        #expect(tx.trim(toBytes: 0) == 0)  // the newest value always stays
        #expect(tx.closeIfDrained() == false)  // `newest` has not read it
        #expect(throws: BroadcastTryRecvError.lagged(10)) { try newest.tryRecv() }
        #expect(try newest.tryRecv() == 42)
        #expect(tx.closeIfDrained())
    }

    @Test func anUnsentChannelClosesDrainedAndFreesWithNoSlot() throws {
        let account = BroadcastByteAccount()
        var pair: (BroadcastSender<Int>, BroadcastReceiver<Int>)? = try Broadcast.channel(
            of: Int.self, capacity: 8, retention: BroadcastRetention(count: 8, account: account))
        #expect(pair?.0.closeIfDrained() == true)
        #expect(throws: BroadcastTryRecvError.closed) { try pair?.1.tryRecv() }
        pair = nil  // deinit with no slot allocated: nothing to free, the account unchanged
        #expect(account.bytes == 0)
    }
}
