// readBatch(upTo:armingWhenDrained:reserve:): the event loop's read-then-arm in one lock.
import Channels
import Dispatch
import Foundation
import Testing

@Suite struct ReadAndArmTests {
    /// Hands out room from one buffer and records every request.
    final class Room {
        let buffer = UnsafeMutableBufferPointer<Int>.allocate(capacity: 64)
        var requests: [Int] = []
        func reserve(_ count: Int) -> UnsafeMutableBufferPointer<Int> {
            requests.append(count)
            return UnsafeMutableBufferPointer(rebasing: buffer[0..<count])
        }
        func values(_ count: Int) -> [Int] { Array(buffer[0..<count]) }
        deinit { buffer.deallocate() }
    }

    @Test func readsExactlyWhatIsThereAndArmsWhenThatDrainsIt() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 8)
        for v in 1...3 { tx.send(v) }
        let room = Room()
        let waker = CountingWaker()
        let batch = rx.readBatch(upTo: 10, armingWhenDrained: waker, reserve: room.reserve)
        #expect(batch == BroadcastBatch(count: 3, armed: true))
        #expect(room.requests == [3])
        #expect(room.values(3) == [1, 2, 3])
        #expect(waker.count == 0)
        tx.send(4)
        tx.send(5)
        #expect(waker.count == 1)  // once, until armed again
        #expect(try rx.tryRecv() == 4)
    }

    @Test func aFullBatchLeavesTheRestAndArmsNothing() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 8)
        for v in 1...5 { tx.send(v) }
        let room = Room()
        let waker = CountingWaker()
        #expect(rx.readBatch(upTo: 2, armingWhenDrained: waker, reserve: room.reserve) == BroadcastBatch(count: 2))
        #expect(room.values(2) == [1, 2])
        tx.send(6)
        #expect(waker.count == 0)  // not armed: values were left
        // Exactly the rest: drained, so armed.
        #expect(rx.readBatch(upTo: 4, armingWhenDrained: waker, reserve: room.reserve) == BroadcastBatch(count: 4, armed: true))
        #expect(room.values(4) == [3, 4, 5, 6])
        #expect(room.requests == [2, 4])
        tx.send(7)
        #expect(waker.count == 1)
    }

    @Test func anEmptyOpenChannelArmsWithoutAskingForRoom() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 4)
        let room = Room()
        let waker = CountingWaker()
        #expect(rx.readBatch(upTo: 4, armingWhenDrained: waker, reserve: room.reserve) == BroadcastBatch(armed: true))
        #expect(room.requests.isEmpty)
        tx.send(1)
        #expect(waker.count == 1)
    }

    @Test func lagIsReportedFirstAndNothingIsArmed() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 4)
        for v in 1...7 { tx.send(v) }
        let room = Room()
        let waker = CountingWaker()
        #expect(rx.readBatch(upTo: 8, armingWhenDrained: waker, reserve: room.reserve) == BroadcastBatch(lagged: 3))
        #expect(room.requests.isEmpty)
        #expect(rx.readBatch(upTo: 8, armingWhenDrained: waker, reserve: room.reserve) == BroadcastBatch(count: 4, armed: true))
        #expect(room.values(4) == [4, 5, 6, 7])
    }

    @Test func aClosedChannelIsReportedAndNeverArmed() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 4)
        tx.send(1)
        tx.close()
        let room = Room()
        let waker = CountingWaker()
        #expect(rx.readBatch(upTo: 4, armingWhenDrained: waker, reserve: room.reserve) == BroadcastBatch(count: 1, closed: true))
        #expect(rx.readBatch(upTo: 4, armingWhenDrained: waker, reserve: room.reserve) == BroadcastBatch(closed: true))
        #expect(room.requests == [1])
        #expect(waker.count == 0)
    }

    @Test func valuesReadThisWayAreReleasedByTheirReader() throws {
        final class Box: Sendable {}
        let (tx, rx) = try Broadcast.channel(of: Box.self, capacity: 4)
        weak var watched: Box?
        do {
            let box = Box()
            watched = box
            tx.send(box)
        }
        let slots = UnsafeMutablePointer<Box>.allocate(capacity: 4)
        defer { slots.deallocate() }
        let batch = rx.readBatch(upTo: 4, armingWhenDrained: CountingWaker()) { count in
            UnsafeMutableBufferPointer(start: slots, count: count)
        }
        #expect(batch.count == 1)
        #expect(watched != nil)  // held by the reader now (the only receiver took it by move)
        slots.deinitialize(count: 1)
        #expect(watched == nil)
        withExtendedLifetime(tx) {}
    }

    @Test(.timeLimit(.minutes(5)))
    func aThreadThatSleepsOnlyWhenArmedMissesNothing() async throws {
        // The event loop's pattern: read and arm in one step, sleep only when armed.
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 16)
        let total = 50_000
        final class Sem: BroadcastWaker, @unchecked Sendable {
            // Invariant: only DispatchSemaphore (thread-safe) is stored.
            let s = DispatchSemaphore(value: 0)
            func wake() { s.signal() }
        }
        let sem = Sem()
        let consumer = Task {
            await withCheckedContinuation { (done: CheckedContinuation<(Int, UInt64, Bool), Never>) in
                let thread = Thread {
                    let buffer = UnsafeMutableBufferPointer<Int>.allocate(capacity: 8)
                    defer { buffer.deallocate() }
                    var got = 0, lagged: UInt64 = 0, last = -1, ordered = true
                    while true {
                        let batch = rx.readBatch(upTo: 8, armingWhenDrained: sem) { count in
                            UnsafeMutableBufferPointer(rebasing: buffer[0..<count])
                        }
                        lagged += batch.lagged
                        for k in 0..<batch.count {
                            if buffer[k] <= last { ordered = false }
                            last = buffer[k]
                        }
                        got += batch.count
                        if batch.closed { break }
                        if batch.armed { sem.s.wait() }
                    }
                    done.resume(returning: (got, lagged, ordered))
                }
                thread.start()
            }
        }
        for i in 0..<total {
            tx.send(i)
            if i % 64 == 0 { await Task.yield() }
        }
        tx.close()
        let (got, lagged, ordered) = await consumer.value
        #expect(ordered)
        #expect(UInt64(got) + lagged == UInt64(total))
    }
}
