import Dispatch
import Foundation
import Locks
import Testing
@testable import Channels

/// Reads with tryRecv and renders the outcome, for table tests.
private func step<T>(_ rx: BroadcastReceiver<T>) -> String {
    do { return "\(try rx.tryRecv())" } catch { return "\(error)" }
}

/// Awaits one recv and captures its typed outcome.
private func recvResult<T>(_ rx: BroadcastReceiver<T>) async -> Result<T, BroadcastRecvError> {
    do throws(BroadcastRecvError) { return .success(try await rx.recv()) } catch { return .failure(error) }
}

@Suite struct BroadcastTests {
    @Test func moduleDocExampleWorks() async throws {
        let (tx, rx1) = try Broadcast.channel(of: Int.self, capacity: 16)
        let rx2 = tx.subscribe()
        tx.send(10)
        tx.send(20)
        #expect(try await rx1.recv() == 10)
        #expect(try await rx2.recv() == 10)
        #expect(try await rx1.recv() == 20)
        #expect(try await rx2.recv() == 20)

        // Handling lag: capacity 2, three sends, the receiver missed one value.
        let (tx2, rx) = try Broadcast.channel(of: Int.self, capacity: 2)
        tx2.send(10)
        tx2.send(20)
        tx2.send(30)
        await #expect(throws: BroadcastRecvError.lagged(1)) { try await rx.recv() }
        #expect(try await rx.recv() == 20)
        #expect(try await rx.recv() == 30)
        tx2.close()
        await #expect(throws: BroadcastRecvError.closed) { try await rx.recv() }
    }

    @Test func zeroOrNegativeCapacityIsRejected() {
        #expect(throws: BroadcastChannelError.invalidCapacity(0)) { try Broadcast.channel(of: Int.self, capacity: 0) }
        #expect(throws: BroadcastChannelError.invalidCapacity(-3)) { try Broadcast.channel(of: Int.self, capacity: -3) }
    }

    @Test func capacityIsRoundedUpToAPowerOfTwo() throws {
        let (tx, _) = try Broadcast.channel(of: Int.self, capacity: 3)
        #expect(tx.capacity == 4)
        let (tx1, _) = try Broadcast.channel(of: Int.self, capacity: 1)
        #expect(tx1.capacity == 1)
    }

    @Test func capacityTwoSendingThreeGivesLaggedOneThenTwoAndThree() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 2)
        for v in 1...3 { tx.send(v) }
        #expect([step(rx), step(rx), step(rx), step(rx)] == ["lagged(1)", "2", "3", "empty"])
    }

    @Test func capacityFourReadingOneThenSendingFourMoreGivesLaggedThree() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 4)
        for v in 1...4 { tx.send(v) }
        #expect(step(rx) == "1")
        for v in 5...8 { tx.send(v) }
        #expect((0..<6).map { _ in step(rx) } == ["lagged(3)", "5", "6", "7", "8", "empty"])
    }

    @Test func aReceiverCanLagTwiceInARow() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 2)
        for v in 1...3 { tx.send(v) }
        #expect(step(rx) == "lagged(1)")
        for v in 4...6 { tx.send(v) }
        #expect((0..<4).map { _ in step(rx) } == ["lagged(3)", "5", "6", "empty"])
    }

    @Test func afterTheSenderIsGoneALaggedReceiverGetsLagThenHeldValuesThenClosed() throws {
        // The sender handle goes out of scope (deinit) at the end of this closure.
        let rx = try { () throws -> BroadcastReceiver<Int> in
            let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 2)
            for v in 1...4 { tx.send(v) }
            return rx
        }()
        #expect((0..<5).map { _ in step(rx) } == ["lagged(2)", "3", "4", "closed", "closed"])
    }

    @Test func capacityThreeBehavesAsFour() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 3)
        for v in 1...5 { tx.send(v) }
        #expect((0..<6).map { _ in step(rx) } == ["lagged(1)", "2", "3", "4", "5", "empty"])
    }

    @Test func tokioLaggingRxSequence() throws {
        let (tx, rx1) = try Broadcast.channel(of: String.self, capacity: 2)
        let rx2 = tx.subscribe()
        tx.send("one")
        tx.send("two")
        #expect(step(rx1) == "one")
        tx.send("three")
        #expect(step(rx2) == "lagged(1)")
        #expect(step(rx2) == "two")
        #expect(step(rx1) == "two")
        #expect(step(rx1) == "three")
        tx.send("four")
        tx.send("five")
        #expect(step(rx2) == "lagged(1)")
        tx.send("six")
        #expect(step(rx2) == "lagged(1)")
    }

    @Test func singleCapacityRecvsAndLagsAfterDrop() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 1)
        tx.send(1)
        #expect(step(rx) == "1")
        #expect(step(rx) == "empty")
        tx.send(2)
        tx.send(3)
        tx.close()
        #expect([step(rx), step(rx), step(rx)] == ["lagged(1)", "3", "closed"])
    }

    @Test func droppingTheSenderDoesNotOverwrite() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 2)
        tx.send(1)
        tx.send(2)
        tx.close()
        #expect([step(rx), step(rx), step(rx)] == ["1", "2", "closed"])
    }

    @Test func sendWithNoReceiversReturnsZeroAndStoresNothing() throws {
        let counter = DeinitCounter()
        let (tx2, _) = try Broadcast.channel(of: Tracked.self, capacity: 4)  // receiver dropped at once
        #expect(tx2.receiverCount == 0)
        #expect(tx2.send(Tracked(1, counter)) == 0)
        #expect(counter.value == 1)  // not stored: released right away
        let rx = tx2.subscribe()
        #expect(rx.pendingCount == 0)
        #expect(tx2.send(Tracked(2, counter)) == 1)
        #expect((try? rx.tryRecv())?.n == 2)
    }

    @Test func aNewReceiverSeesOnlyLaterValues() throws {
        let (tx, rx1) = try Broadcast.channel(of: Int.self, capacity: 4)
        tx.send(1)
        let rx2 = tx.subscribe()
        #expect(step(rx2) == "empty")
        tx.send(2)
        #expect([step(rx1), step(rx1)] == ["1", "2"])
        #expect([step(rx2), step(rx2)] == ["2", "empty"])
    }

    @Test func resubscribePointsToTheTailAndDoesNotAffectTheOriginal() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 3)
        tx.send(1)
        let rr = rx.resubscribe()
        #expect(step(rr) == "empty")
        #expect(step(rx) == "1")
        tx.send(2)
        #expect(step(rr) == "2")
        tx.send(3)
        #expect([step(rx), step(rx), step(rx)] == ["2", "3", "empty"])
        #expect([step(rr), step(rr)] == ["3", "empty"])
    }

    @Test func resubscribeToAClosedChannelReportsClosed() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 2)
        tx.close()
        #expect(step(rx.resubscribe()) == "closed")
    }

    @Test func pendingCountCountsPastCapacityWhenLagged() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 3)
        for v in [10, 20, 30, 40] { tx.send(v) }
        #expect(rx.pendingCount == 4)
        #expect(step(rx) == "10")
        tx.send(50)
        tx.send(60)
        #expect(rx.pendingCount == 5)
        #expect(step(rx) == "lagged(1)")
    }

    @Test func aClonedSenderKeepsTheChannelOpenUntilEveryHandleIsClosed() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 2)
        var tx2: BroadcastSender<Int>? = tx.clone()
        tx.close()
        #expect(tx.send(1) == 0)
        #expect(tx2?.send(2) == 1)
        #expect(step(rx) == "2")
        #expect(step(rx) == "empty")
        tx2 = nil
        #expect(step(rx) == "closed")
        #expect(tx.clone().send(3) == 0)
    }

    @Test func valuesAreReleasedWhenEveryReceiverHasReadThem() throws {
        let counter = DeinitCounter()
        let (tx, rx1) = try Broadcast.channel(of: Tracked.self, capacity: 4)
        let rx2 = tx.subscribe()
        tx.send(Tracked(1, counter))
        tx.send(Tracked(2, counter))
        _ = try rx1.tryRecv()
        _ = try rx1.tryRecv()
        #expect(counter.value == 0)
        _ = try rx2.tryRecv()
        #expect(counter.value == 1)
        _ = try rx2.tryRecv()
        #expect(counter.value == 2)
    }

    @Test func valuesAreReleasedWhenOverwritten() throws {
        let counter = DeinitCounter()
        let (tx, rx) = try Broadcast.channel(of: Tracked.self, capacity: 2)
        for i in 0..<5 { tx.send(Tracked(i, counter)) }
        #expect(counter.value == 3)
        withExtendedLifetime(rx) {}
    }

    @Test func aDeinitializedReceiverReleasesItsClaims() throws {
        let counter = DeinitCounter()
        let (tx, rx1) = try Broadcast.channel(of: Tracked.self, capacity: 4)
        var rx2: BroadcastReceiver<Tracked>? = tx.subscribe()
        for i in 0..<3 { tx.send(Tracked(i, counter)) }
        for _ in 0..<3 { _ = try rx1.tryRecv() }
        #expect(counter.value == 0)
        _ = try rx2?.tryRecv()
        #expect(counter.value == 1)
        rx2 = nil
        #expect(counter.value == 3)
        // Memory stays bounded by capacity whatever receivers do.
        for i in 0..<100 { tx.send(Tracked(i, counter)) }
        #expect(counter.value == 99)
        withExtendedLifetime(rx1) {}
    }

    @Test func armWakerReturnsFalseWhenDataIsPending() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 2)
        tx.send(1)
        let w = CountingWaker()
        #expect(rx.armWaker(w) == false)
        #expect(rx.channelParkedCount == 0)
        _ = try rx.tryRecv()
        #expect(rx.armWaker(w) == true)
        #expect(rx.channelParkedCount == 1)
        rx.disarmWaker()
        #expect(rx.channelParkedCount == 0)
        tx.send(2)
        #expect(w.count == 0)
    }

    @Test func anArmedWakerIsCalledExactlyOnceAfterASend() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 4)
        let w = CountingWaker()
        #expect(rx.armWaker(w))
        tx.send(1)
        #expect(w.count == 1)
        tx.send(2)
        #expect(w.count == 1)
        #expect(rx.channelParkedCount == 0)
        #expect(rx.armWaker(w) == false)  // data pending
    }

    @Test func closingWakesAnArmedWaker() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 4)
        let w = CountingWaker()
        #expect(rx.armWaker(w))
        tx.close()
        #expect(w.count == 1)
        #expect(rx.armWaker(w) == false)
    }

    @Test func aWakerThatReadsReentrantlyDoesNotDeadlock() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 4)
        let got = PthreadLock<[Int]>([])
        let w = CountingWaker {
            // Runs inside send(): the lock must already be released.
            if let v = try? rx.tryRecv() { got.withLock { $0.append(v) } }
            let buf = UnsafeMutableBufferPointer<Int>.allocate(capacity: 4)
            buf.initialize(repeating: 0)
            _ = rx.readBatch(into: buf)
            buf.deallocate()
            #expect(rx.armWaker(CountingWaker()))
        }
        #expect(rx.armWaker(w))
        tx.send(7)
        #expect(w.count == 1)
        #expect(got.withLock { $0 } == [7])
        rx.disarmWaker()
    }

    @Test func readBatchReportsLagFirstThenTheValues() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 4)
        for v in 1...6 { tx.send(v) }
        let buf = UnsafeMutableBufferPointer<Int>.allocate(capacity: 3)
        defer { buf.deallocate() }
        buf.initialize(repeating: 0)
        #expect(rx.readBatch(into: buf) == BroadcastBatch(lagged: 2))
        #expect(rx.readBatch(into: buf) == BroadcastBatch(count: 3))
        #expect(Array(buf) == [3, 4, 5])
        tx.close()
        #expect(rx.readBatch(into: buf) == BroadcastBatch(count: 1, closed: true))
        #expect(buf[0] == 6)
        #expect(rx.readBatch(into: buf) == BroadcastBatch(closed: true))
    }

    @Test func readBatchOnAnEmptyOpenChannelReturnsNothing() throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 4)
        let buf = UnsafeMutableBufferPointer<Int>.allocate(capacity: 3)
        defer { buf.deallocate() }
        buf.initialize(repeating: 0)
        #expect(rx.readBatch(into: buf) == BroadcastBatch())
        withExtendedLifetime(tx) {}
    }

    @Test func waitingReceiversAreWokenBySendAndClose() async throws {
        let (tx, rx1) = try Broadcast.channel(of: Int.self, capacity: 16)
        let rx2 = tx.subscribe()
        let t1 = Task { try await rx1.recv() }
        let t2 = Task { try await rx2.recv() }
        #expect(await waitUntil { rx1.channelParkedCount == 2 })
        tx.send(1)
        #expect(try await t1.value == 1)
        #expect(try await t2.value == 1)
        let t3 = Task { await recvResult(rx1) }
        #expect(await waitUntil { rx1.channelParkedCount == 1 })
        tx.close()
        #expect(await t3.value == .failure(.closed))
    }

    @Test func cancellingAWaitingRecvLeavesNoWaiterAndLosesNoValue() async throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 4)
        let t = Task { await recvResult(rx) }
        #expect(await waitUntil { rx.channelParkedCount == 1 })
        t.cancel()
        #expect(await t.value == .failure(.cancelled))
        #expect(rx.channelParkedCount == 0)
        tx.send(5)
        #expect(step(rx) == "5")
    }

    @Test func aRecvInAnAlreadyCancelledTaskParksNothing() async throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 4)
        let t = Task { () -> Result<Int, BroadcastRecvError> in
            withUnsafeCurrentTask { $0?.cancel() }
            return await recvResult(rx)
        }
        #expect(await t.value == .failure(.cancelled))
        #expect(rx.channelParkedCount == 0)
        // A value that is available is returned even to a cancelled task.
        tx.send(9)
        let t2 = Task { () -> Int? in
            withUnsafeCurrentTask { $0?.cancel() }
            return try? await rx.recv()
        }
        #expect(await t2.value == 9)
    }

    @Test func cancellationRacingWithSendsNeverLeavesAWaiterOrLosesAValue() async throws {
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 1024)
        var received = 0
        var sent = 0
        for round in 0..<300 {
            let t = Task { () -> Int? in try? await rx.recv() }
            if round % 2 == 0 { tx.send(round); sent += 1 }
            t.cancel()
            if await t.value != nil { received += 1 }
            #expect(rx.channelParkedCount == 0)
        }
        while (try? rx.tryRecv()) != nil { received += 1 }
        #expect(received == sent)
    }

    @Test(.timeLimit(.minutes(5)))
    func stressReceivedPlusLaggedEqualsSentAndPerSenderOrderIsStrict() async throws {
        struct Msg: Sendable { let sender: Int; let seq: Int }
        let senders = 3, perSender = 3000, receivers = 4
        let (tx, rx0) = try Broadcast.channel(of: Msg.self, capacity: 8)
        var rxs = [rx0]
        for _ in 1..<receivers { rxs.append(tx.subscribe()) }
        let results = await withTaskGroup(of: (Int, UInt64, Bool).self) { group in
            for (r, rx) in rxs.enumerated() {
                group.addTask {
                    var rng = SplitMix(state: UInt64(r + 1))
                    var last = [Int](repeating: -1, count: senders)
                    var got = 0, lagged: UInt64 = 0, ordered = true
                    while true {
                        do throws(BroadcastRecvError) {
                            let m = try await rx.recv()
                            if m.seq <= last[m.sender] { ordered = false }
                            last[m.sender] = m.seq
                            got += 1
                        } catch .lagged(let n) {
                            lagged += n
                        } catch {
                            break
                        }
                        if rng.next() % 16 == 0 { await Task.yield() }
                    }
                    return (got, lagged, ordered)
                }
            }
            let handles = (0..<senders).map { _ in tx.clone() }
            tx.close()
            for (s, h) in handles.enumerated() {
                group.addTask {
                    var rng = SplitMix(state: UInt64(100 + s))
                    for i in 0..<perSender {
                        h.send(Msg(sender: s, seq: i))
                        if rng.next() % 8 == 0 { await Task.yield() }
                    }
                    h.close()
                    return (-1, 0, true)
                }
            }
            var out: [(Int, UInt64, Bool)] = []
            for await r in group where r.0 >= 0 { out.append(r) }
            return out
        }
        #expect(results.count == receivers)
        for (got, lagged, ordered) in results {
            #expect(UInt64(got) + lagged == UInt64(senders * perSender))
            #expect(ordered)
        }
    }

    @Test(.timeLimit(.minutes(5)))
    func stressWithArmedWakersOnThreads() async throws {
        // One event-loop-like thread drains with armWaker + readBatch while tasks send.
        let (tx, rx) = try Broadcast.channel(of: Int.self, capacity: 16)
        let total = 20000
        final class Sem: BroadcastWaker, @unchecked Sendable {
            // Invariant: only DispatchSemaphore (thread-safe) is stored.
            let s = DispatchSemaphore(value: 0)
            func wake() { s.signal() }
        }
        let sem = Sem()
        // The consumer is a plain thread, like the server's epoll loop.
        let consumer = Task {
            await withCheckedContinuation { (done: CheckedContinuation<(Int, UInt64), Never>) in
                let t = Thread {
                    let buf = UnsafeMutableBufferPointer<Int>.allocate(capacity: 8)
                    defer { buf.deallocate() }
                    buf.initialize(repeating: 0)
                    var got = 0, lagged: UInt64 = 0, last = -1, ordered = true
                    while true {
                        let b = rx.readBatch(into: buf)
                        lagged += b.lagged
                        for k in 0..<b.count {
                            if buf[k] <= last { ordered = false }
                            last = buf[k]
                        }
                        got += b.count
                        if b.closed { break }
                        if b.count == 0 && b.lagged == 0 && rx.armWaker(sem) { sem.s.wait() }
                    }
                    done.resume(returning: ordered ? (got, lagged) : (-1, 0))
                }
                t.start()
            }
        }
        for i in 0..<total {
            tx.send(i)
            if i % 64 == 0 { await Task.yield() }
        }
        tx.close()
        let (got, lagged) = await consumer.value
        #expect(UInt64(got) + lagged == UInt64(total))
    }
}
