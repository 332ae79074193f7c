// A sender made without its channel (`init(unopened:)`): what it does before and after `open`.
import Testing
@testable import Channels

@Suite struct UnopenedSenderTests {
    private let retention = BroadcastRetention<Int>(count: 8)

    @Test func beforeItOpensASenderHoldsNothingAndStoresNothing() {
        let tx = BroadcastSender<Int>(unopened: ())
        #expect(!tx.isOpen)
        #expect(tx.positions == BroadcastPositions(tail: 0, oldest: 0, heldBytes: 0))
        #expect(tx.receiverCount == 0)
        #expect(tx.capacity == 0)
        #expect(tx.send(1) == 0)
        let sent = tx.sendLocated(2, weight: 10)
        #expect(sent.receivers == 0 && sent.position == nil)
        #expect(!tx.skip(to: 5))
        #expect(tx.trim(toBytes: 0) == 0)
        #expect(!tx.isClosed)
        #expect(!tx.isOpen)  // none of those opened it
    }

    @Test func openingMakesTheChannelOnceAndItThenBehavesAsAnyOther() throws {
        let tx = BroadcastSender<Int>(unopened: ())
        #expect(try tx.open(capacity: 5, retention: retention))
        #expect(tx.isOpen)
        #expect(try !tx.open(capacity: 64, retention: retention))  // already open: unchanged
        #expect(tx.capacity == 8)
        let rx = tx.subscribe()
        #expect(tx.sendLocated(7).position == 0)
        #expect(tx.sendLocated(8).position == 1)
        #expect(try rx.tryRecv() == 7)
        #expect(try rx.tryRecv() == 8)
        // A receiver placed at 0 afterwards reads what the ring retained since it opened.
        let late = tx.subscribe(.position(0))
        #expect(try late.tryRecv() == 7)
        #expect(tx.positions == BroadcastPositions(tail: 2, oldest: 0, heldBytes: 0))
    }

    @Test func anInvalidCapacityIsRefusedAndLeavesTheSenderUnopened() {
        let tx = BroadcastSender<Int>(unopened: ())
        #expect(throws: BroadcastChannelError.invalidCapacity(0)) { try tx.open(capacity: 0, retention: retention) }
        #expect(!tx.isOpen)
    }

    @Test func closingBeforeOpeningIsForGood() throws {
        let drained = BroadcastSender<Int>(unopened: ())
        #expect(drained.closeIfDrained())  // nothing sent, nobody reading
        #expect(drained.isClosed)
        #expect(try !drained.open(capacity: 8, retention: retention))
        #expect(!drained.isOpen)
        #expect(drained.sendLocated(1).position == nil)

        let closed = BroadcastSender<Int>(unopened: ())
        closed.close()
        #expect(try !closed.open(capacity: 8, retention: retention))
        #expect(closed.clone().isClosed)
    }

    @Test func closingAnOpenedSenderClosesItsChannel() throws {
        let tx = BroadcastSender<Int>(unopened: ())
        #expect(try tx.open(capacity: 8, retention: retention))
        let rx = tx.subscribe()
        tx.send(3)
        tx.close()
        #expect(try rx.tryRecv() == 3)
        #expect(throws: BroadcastTryRecvError.closed) { try rx.tryRecv() }
    }

    @Test func ofManyThreadsOpeningAtOnceExactlyOneOpensIt() async throws {
        for _ in 0..<200 {
            let tx = BroadcastSender<Int>(unopened: ())
            let opened = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<4 { group.addTask { (try? tx.open(capacity: 8, retention: BroadcastRetention(count: 8))) ?? false } }
                var count = 0
                for await won in group where won { count += 1 }
                return count
            }
            #expect(opened == 1)
            #expect(tx.isOpen)
        }
    }
}
