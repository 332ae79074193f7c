// Retaining broadcast channels: values held after they were read, positions, replay, byte bounds.
import Testing
@testable import Channels

@Suite struct RetentionTests {
    private func retaining(capacity: Int, count: Int, maxBytes: Int = .max,
                           account: BroadcastByteAccount? = nil) throws -> (BroadcastSender<Int>, BroadcastReceiver<Int>) {
        try Broadcast.channel(of: Int.self, capacity: capacity,
                              retention: BroadcastRetention(count: count, maxBytes: maxBytes, account: account))
    }

    @Test func valuesAreHeldAndNumberedWithoutAnyReceiver() throws {
        let (tx, rx) = try retaining(capacity: 16, count: 16)
        _ = consume rx
        #expect(tx.receiverCount == 0)
        for value in 0..<5 {
            let sent = tx.sendLocated(value * 10)
            #expect(sent.receivers == 0)
            #expect(sent.position == UInt64(value))
        }
        #expect(tx.positions == BroadcastPositions(tail: 5, oldest: 0, heldBytes: 0))
        #expect(drain(tx.subscribe(.last(3))) == ["20", "30", "40"])
        #expect(drain(tx.subscribe(.last(99))) == ["0", "10", "20", "30", "40"])
        #expect(drain(tx.subscribe(.position(1))) == ["10", "20", "30", "40"])
        #expect(drain(tx.subscribe(.position(5))).isEmpty)
        #expect(drain(tx.subscribe(.position(77))).isEmpty)  // past the tail: the tail
        #expect(drain(tx.subscribe(.tail)).isEmpty)
    }

    @Test func readersCopyAndTheRingKeepsTheNewestCountValues() throws {
        let (tx, rx) = try retaining(capacity: 64, count: 8)
        for value in 0..<20 {
            tx.send(value)
            #expect(try rx.tryRecv() == value)
        }
        // Everybody read everything, yet the last 8 stay.
        #expect(tx.positions.oldest == 12)
        #expect(tx.shared.withLock { $0.physical } == 8)
        #expect(drain(tx.subscribe(.last(100))) == (12..<20).map { String($0) })
    }

    @Test func aLaggingReceiverStillMayFallTheWholeCapacityBehind() throws {
        let (tx, rx) = try retaining(capacity: 32, count: 4)
        for value in 0..<40 { tx.send(value) }
        // The ring grew past the retention to hold what rx owes, up to the capacity.
        #expect(tx.positions.oldest == 8)
        #expect(drain(rx) == ["lag 8"] + (8..<40).map { String($0) })
    }

    @Test func aPositionNoLongerHeldIsReportedAsOneLagThenTheRest() throws {
        let (tx, _) = try retaining(capacity: 8, count: 8)
        for value in 0..<20 { tx.send(value) }
        #expect(tx.positions == BroadcastPositions(tail: 20, oldest: 12, heldBytes: 0))
        #expect(drain(tx.subscribe(.position(3))) == ["lag 9"] + (12..<20).map { String($0) })
    }

    @Test func replayedValuesAreClaimedSoASlowReplayStillGetsThemOrALag() throws {
        let (tx, _) = try retaining(capacity: 8, count: 4)
        for value in 0..<4 { tx.send(value) }
        let replay = tx.subscribe(.position(0))
        for value in 4..<8 { tx.send(value) }
        // The replaying receiver owed 0...3, so the ring grew rather than overwrite them.
        #expect(drain(replay) == (0..<8).map { String($0) })
    }

    @Test func theByteBoundDropsTheOldestAndKeepsTheNewest() throws {
        let account = BroadcastByteAccount()
        let (tx, rx) = try retaining(capacity: 64, count: 64, maxBytes: 35, account: account)
        for value in 0..<10 { _ = tx.sendLocated(value, weight: 10) }
        #expect(tx.positions == BroadcastPositions(tail: 10, oldest: 7, heldBytes: 30))
        #expect(account.bytes == 30)
        #expect(drain(rx) == ["lag 7", "7", "8", "9"])
        #expect(tx.trim(toBytes: 10) == 20)
        #expect(account.bytes == 10)
        #expect(tx.trim(toBytes: 0) == 0)  // the newest value always stays
        #expect(drain(tx.subscribe(.last(5))) == ["9"])
    }

    @Test func theAccountAddsUpSeveralChannelsAndForgetsAFreedOne() throws {
        let account = BroadcastByteAccount()
        var (a, _) = try retaining(capacity: 16, count: 16, account: account)
        let (b, _) = try retaining(capacity: 16, count: 16, account: account)
        for value in 0..<4 {
            _ = a.sendLocated(value, weight: 3)
            _ = b.sendLocated(value, weight: 5)
        }
        #expect(account.bytes == 32)
        a = try retaining(capacity: 16, count: 16).0
        #expect(account.bytes == 20)
        _ = a
    }

    @Test func valuesAreReleasedWhenOverwrittenTrimmedOrFreed() throws {
        let counter = DeinitCounter()
        do {
            let (tx, _) = try Broadcast.channel(of: Tracked.self, capacity: 4, retention: BroadcastRetention(count: 4))
            for value in 0..<10 { tx.send(Tracked(value, counter)) }
            #expect(counter.value == 6)
        }
        #expect(counter.value == 10)
    }

    @Test func readBatchTellsThePositionOfItsFirstValue() throws {
        let (tx, rx) = try retaining(capacity: 16, count: 16)
        for value in 0..<5 { tx.send(value) }
        let waker = CountingWaker()
        let room = UnsafeMutableBufferPointer<Int>.allocate(capacity: 16)
        defer { room.deallocate() }
        var first: UInt64 = .max
        let batch = rx.readBatch(upTo: 3, armingWhenDrained: waker) { count, position in
            first = position
            return UnsafeMutableBufferPointer(rebasing: room[0..<count])
        }
        #expect(batch.count == 3 && first == 0)
        _ = rx.readBatch(upTo: 3, armingWhenDrained: waker) { count, position in
            first = position
            return UnsafeMutableBufferPointer(rebasing: room[0..<count])
        }
        #expect(first == 3)
    }

    @Test func finishSeesExactlyTheValuesReadAndTheirFirstPosition() throws {
        let (tx, rx) = try retaining(capacity: 16, count: 16)
        for value in 10..<15 { tx.send(value) }
        let waker = CountingWaker()
        let room = UnsafeMutableBufferPointer<Int>.allocate(capacity: 16)
        defer { room.deallocate() }
        var seen: [(values: [Int], first: UInt64)] = []
        func read(_ limit: Int) -> BroadcastBatch {
            rx.readBatch(upTo: limit, armingWhenDrained: waker,
                         reserve: { count, _ in UnsafeMutableBufferPointer(rebasing: room[0..<count]) },
                         finish: { read, first in seen.append((Array(read), first)) })
        }
        #expect(read(3).count == 3)
        #expect(read(8) == BroadcastBatch(count: 2, armed: true))
        #expect(read(8) == BroadcastBatch(armed: true))  // nothing read: finish is not called
        #expect(seen.map(\.values) == [[10, 11, 12], [13, 14]])
        #expect(seen.map(\.first) == [0, 3])
        // The values read stay held for a later receiver.
        let late = tx.subscribe(.position(0))
        #expect(drain(late) == ["10", "11", "12", "13", "14"])
    }

    @Test func finishRunsOncePerValueAcrossReceiversAndOnlyForReadsThatAskForIt() throws {
        let (tx, first) = try retaining(capacity: 64, count: 64)
        let second = tx.subscribe(.tail)
        let plain = tx.subscribe(.tail)
        for value in 0..<6 { tx.send(value) }
        let waker = CountingWaker()
        let room = UnsafeMutableBufferPointer<Int>.allocate(capacity: 64)
        defer { room.deallocate() }
        var finished: [[Int]] = []
        func read(_ rx: BroadcastReceiver<Int>, _ limit: Int, finishing: Bool = true) -> [Int] {
            let reserve = { (count: Int, _: UInt64) in UnsafeMutableBufferPointer(rebasing: room[0..<count]) }
            let batch = finishing
                ? rx.readBatch(upTo: limit, armingWhenDrained: waker, reserve: reserve) { values, position in
                    #expect(values.first.map { UInt64($0) } == position)  // value i sits at position i here
                    finished.append(Array(values))
                }
                : rx.readBatch(upTo: limit, armingWhenDrained: waker, reserve: reserve)
            return Array(room[0..<batch.count])
        }
        // A read without finish records nothing: the first finishing read still finishes those values.
        #expect(read(plain, 4, finishing: false) == [0, 1, 2, 3])
        #expect(read(first, 4) == [0, 1, 2, 3])
        #expect(read(second, 2) == [0, 1])  // finished already: not again
        #expect(read(second, 8) == [2, 3, 4, 5])  // only what lies past the interval
        #expect(read(first, 8) == [4, 5])
        #expect(finished == [[0, 1, 2, 3], [4, 5]])
        for value in 6..<18 { tx.send(value) }
        // Past a gap, the newer run is finished and becomes the interval.
        #expect(read(tx.subscribe(.position(14)), 64) == [14, 15, 16, 17])
        #expect(finished.last == [14, 15, 16, 17])
        // Older than the interval [14, 18): finished again (the interval keeps only the newest run).
        #expect(read(tx.subscribe(.position(0)), 3) == [0, 1, 2])
        #expect(finished.last == [0, 1, 2])
        // A run that reaches into the interval from below: only the part before it.
        #expect(read(first, 64) == Array(6..<18))
        #expect(finished.last == Array(6..<14))
        #expect(read(second, 64) == Array(6..<18))
        #expect(finished.count == 5)
    }

    @Test func aTokioChannelIgnoresPositionsAndStoresNothingWithoutReceivers() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 8)
        tx.send(1)
        #expect(drain(tx.subscribe(.position(0))).isEmpty)
        #expect(drain(rx) == ["1"])
        _ = consume rx
        #expect(tx.sendLocated(2).position == nil)
    }
}
