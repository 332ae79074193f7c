// BroadcastSender.skip(to:): a retaining ring moved forward without values counts exactly what each receiver missed.
import Testing
@testable import Channels

@Suite struct SkipTests {
    @Test func everyReceiverBehindReadsExactlyWhatItMissedThenWhatFollows() throws {
        let account = BroadcastByteAccount()
        let (tx, caughtUp) = try Broadcast.channel(of: Int.self, capacity: 16,
                                                   retention: BroadcastRetention(count: 16, account: account))
        let behind = tx.subscribe()
        for value in 0..<5 { _ = tx.sendLocated(value, weight: 10) }
        #expect(drain(caughtUp) == ["0", "1", "2", "3", "4"])
        #expect(try behind.tryRecv() == 0)
        #expect(account.bytes == 50)
        #expect(tx.skip(to: 12))
        #expect(tx.positions == BroadcastPositions(tail: 12, oldest: 12, heldBytes: 0))
        #expect(account.bytes == 0)
        #expect(tx.sendLocated(12, weight: 10).position == 12)
        // 5...11 skipped: the caught-up receiver missed 7; the one behind also 1...4, held until the skip.
        #expect(drain(caughtUp) == ["lag 7", "12"])
        #expect(drain(behind) == ["lag 11", "12"])
        // A receiver placed now starts after the skip; one resuming from before it gets the gap as lag.
        #expect(drain(tx.subscribe(.last(10))) == ["12"])
        #expect(drain(tx.subscribe(.position(3))) == ["lag 9", "12"])
    }

    @Test func aSkipToWhereTheRingIsOrBehindItOrOnANonRetainingRingChangesNothing() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 8, retention: BroadcastRetention(count: 8))
        for value in 0..<3 { tx.send(value) }
        #expect(!tx.skip(to: 3))
        #expect(!tx.skip(to: 1))
        #expect(drain(rx) == ["0", "1", "2"])
        let (plain, plainRx) = try Broadcast.channel(of: Int.self, capacity: 8)
        plain.send(1)
        #expect(!plain.skip(to: 10))
        #expect(drain(plainRx) == ["1"])
    }

    @Test func aWaitingReceiverIsWokenToReadItsLag() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 8, retention: BroadcastRetention(count: 8))
        let waker = CountingWaker()
        #expect(rx.armWaker(waker))
        #expect(tx.skip(to: 4))
        #expect(waker.count == 1)
        #expect(drain(rx) == ["lag 4"])
    }

    @Test func aNewRingStartsAtAStreamsHead() throws {
        // The cluster engine's use: a ring mirroring a stream numbered elsewhere starts at its head.
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 8, retention: BroadcastRetention(count: 8))
        _ = consume rx
        #expect(tx.skip(to: 1_000))
        let fresh = tx.subscribe(.tail)
        #expect(tx.sendLocated(1_000).position == 1_000)
        #expect(drain(fresh) == ["1000"])
    }
}
