import Locks
import Testing
@testable import Channels

/// More waiters than one wake batch (32): exercises the O(1) detach of the
/// waiting list and the batched wake-ups with the lock released in between.
@Suite struct ManyWaitersTests {
    @Test func oneSendWakesEveryOneOfFortyArmedWakersExactlyOnce() throws {
        let (tx, rx0) = try Broadcast.channel(of: Int.self, capacity: 4)
        let receivers = [rx0] + (1..<40).map { _ in tx.subscribe() }
        let wakers = receivers.map { _ in CountingWaker() }
        for (rx, w) in zip(receivers, wakers) { #expect(rx.armWaker(w)) }
        #expect(rx0.channelParkedCount == 40)
        tx.send(1)
        #expect(wakers.allSatisfy { $0.count == 1 })
        #expect(rx0.channelParkedCount == 0)
        for rx in receivers { #expect((try? rx.tryRecv()) == 1) }
    }

    @Test func wakersThatReArmOrDisarmOthersDuringTheWakeAreEachCalledOnce() throws {
        let (tx, rx0) = try Broadcast.channel(of: Int.self, capacity: 4)
        let receivers = [rx0] + (1..<50).map { _ in tx.subscribe() }
        // Each waker drains its receiver, re-arms it (going to the live list,
        // not the list being woken) and disarms the receiver 40 places later
        // (which may still sit in the detached list).
        let wakers: [CountingWaker] = (0..<50).map { i in
            CountingWaker {
                let rx = receivers[i]
                _ = try? rx.tryRecv()
                _ = rx.armWaker(CountingWaker())
                receivers[(i + 40) % 50].disarmWaker()
            }
        }
        for (rx, w) in zip(receivers, wakers) { #expect(rx.armWaker(w)) }
        tx.send(1)
        let calls = wakers.map(\.count)
        #expect(calls.allSatisfy { $0 <= 1 })
        // Receivers 40..<50 were disarmed by 0..<10 before their turn; all
        // others were woken exactly once.
        #expect(calls.prefix(40).allSatisfy { $0 == 1 })
        for rx in receivers { rx.disarmWaker() }
        #expect(rx0.channelParkedCount == 0)
    }

    @Test func aSendWakesAHundredWaitingTasks() async throws {
        let (tx, rx0) = try Broadcast.channel(of: Int.self, capacity: 4)
        let receivers = [rx0] + (1..<100).map { _ in tx.subscribe() }
        let tasks = receivers.map { rx in Task { try await rx.recv() } }
        #expect(await waitUntil { rx0.channelParkedCount == 100 })
        tx.send(42)
        for t in tasks { #expect(try await t.value == 42) }
        #expect(rx0.channelParkedCount == 0)
    }

    @Test func closingWakesFortyWaitingTasksWithClosed() async throws {
        let (tx, rx0) = try Broadcast.channel(of: Int.self, capacity: 4)
        let receivers = [rx0] + (1..<40).map { _ in tx.subscribe() }
        let tasks = receivers.map { rx in
            Task { () -> Bool in
                do throws(BroadcastRecvError) { _ = try await rx.recv(); return false } catch { return error == .closed }
            }
        }
        #expect(await waitUntil { rx0.channelParkedCount == 40 })
        tx.close()
        for t in tasks { #expect(await t.value) }
    }

    @Test func aDeinitializedReceiverInTheWaitingListIsSkipped() throws {
        let (tx, rx0) = try Broadcast.channel(of: Int.self, capacity: 4)
        let others = PthreadLock<[BroadcastReceiver<Int>]>((0..<40).map { _ in tx.subscribe() })
        let w0 = CountingWaker {
            // Runs first; drops receivers still waiting in the detached list.
            let dropped = others.withLock { o -> [BroadcastReceiver<Int>] in
                let d = o
                o.removeAll()
                return d
            }
            _ = dropped  // deinitialized here, outside the test's lock
        }
        #expect(rx0.armWaker(w0))
        let ws = others.withLock { o in
            o.map { rx -> CountingWaker in
                let w = CountingWaker()
                _ = rx.armWaker(w)
                return w
            }
        }
        tx.send(1)
        #expect(w0.count == 1)
        #expect(rx0.channelParkedCount == 0)
        #expect(tx.receiverCount == 1)
        // Only wakers of receivers still alive could have been called.
        #expect(ws.allSatisfy { $0.count <= 1 })
    }

    @Test func closingTheMpscReceiverWakesFortyBlockedSenders() async throws {
        let (tx, rx) = try Mpsc.bounded(of: Int.self, capacity: 1)
        try tx.trySend(0)
        let tasks = (0..<40).map { i in
            Task { () -> Bool in
                do throws(MpscSendError<Int>) { try await tx.send(i); return false } catch {
                    if case .closed = error { return true }
                    return false
                }
            }
        }
        #expect(await waitUntil { rx.parkedSenderCount == 40 })
        rx.close()
        for t in tasks { #expect(await t.value) }
        #expect(rx.parkedSenderCount == 0)
    }

    @Test func aWatchSendWakesFortyWaitingReceivers() async throws {
        let (tx, rx0) = Watch.channel(initial: 0)
        let receivers = [rx0] + (1..<40).map { _ in tx.subscribe() }
        let tasks = receivers.map { rx in Task { try await rx.changed(); return rx.borrow() } }
        #expect(await waitUntil { rx0.channelParkedCount == 40 })
        tx.send(5)
        for t in tasks { #expect(try await t.value == 5) }
    }
}
