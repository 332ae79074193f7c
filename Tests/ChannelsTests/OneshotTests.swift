import Foundation
import Testing
@testable import Channels

@Suite struct OneshotTests {
    @Test func sendThenReceive() async throws {
        let (tx, rx) = Oneshot.channel(of: Int.self)
        try tx.send(1)
        #expect(try await rx.value() == 1)
    }

    @Test func aWaitingReceiverIsWokenBySend() async throws {
        let (tx, rx) = Oneshot.channel(of: Int.self)
        let t = Task { try await rx.value() }
        #expect(await waitUntil { rx.isParked })
        try tx.send(9)
        #expect(try await t.value == 9)
    }

    @Test func aSenderGoneWithoutSendingClosesTheReceiver() async throws {
        var pair: (OneshotSender<Int>, OneshotReceiver<Int>)? = Oneshot.channel(of: Int.self)
        let rx = pair?.1
        let t = Task { () -> OneshotRecvError? in
            do throws(OneshotRecvError) { _ = try await rx?.value(); return nil } catch { return error }
        }
        #expect(await waitUntil { rx?.isParked == true })
        pair = nil
        #expect(await t.value == .closed)
    }

    @Test func sendHandsTheValueBackWhenTheReceiverIsGone() throws {
        var pair: (OneshotSender<Int>, OneshotReceiver<Int>)? = Oneshot.channel(of: Int.self)
        let tx = pair?.0
        pair = nil
        #expect(tx?.isClosed == true)
        do throws(OneshotSendError<Int>) { try tx?.send(5) } catch {
            guard case .closed(let v) = error else { Issue.record("expected closed"); return }
            #expect(v == 5)
        }
    }

    @Test func closingTheReceiverRejectsLaterSendsButKeepsAnEarlierValue() throws {
        let (tx, rx) = Oneshot.channel(of: Int.self)
        try tx.send(1)
        rx.close()
        #expect(try rx.tryRecv() == 1)
        let (tx2, rx2) = Oneshot.channel(of: Int.self)
        rx2.close()
        #expect(throws: OneshotSendError<Int>.self) { try tx2.send(2) }
        #expect(throws: OneshotTryRecvError.closed) { try rx2.tryRecv() }
    }

    @Test func tryRecvIsEmptyBeforeSendAndClosedAfterTheValueWasTaken() throws {
        let (tx, rx) = Oneshot.channel(of: Int.self)
        #expect(throws: OneshotTryRecvError.empty) { try rx.tryRecv() }
        try tx.send(3)
        #expect(try rx.tryRecv() == 3)
        #expect(throws: OneshotTryRecvError.closed) { try rx.tryRecv() }
    }

    @Test func aSecondSendIsRejectedWithItsValue() throws {
        let (tx, rx) = Oneshot.channel(of: Int.self)
        try tx.send(1)
        do throws(OneshotSendError<Int>) { try tx.send(2) } catch {
            guard case .alreadySent(let v) = error else { Issue.record("expected alreadySent"); return }
            #expect(v == 2)
        }
        #expect(try rx.tryRecv() == 1)
    }

    @Test func anUntakenValueIsReleasedWithTheReceiver() throws {
        let counter = DeinitCounter()
        var pair: (OneshotSender<Tracked>, OneshotReceiver<Tracked>)? = Oneshot.channel(of: Tracked.self)
        try pair?.0.send(Tracked(1, counter))
        #expect(counter.value == 0)
        pair = nil
        #expect(counter.value == 1)
    }

    @Test func cancellingAWaitLeavesNoWaiterAndTheValueCanStillBeTaken() async throws {
        let (tx, rx) = Oneshot.channel(of: Int.self)
        let t = Task { () -> OneshotRecvError? in
            do throws(OneshotRecvError) { _ = try await rx.value(); return nil } catch { return error }
        }
        #expect(await waitUntil { rx.isParked })
        t.cancel()
        #expect(await t.value == .cancelled)
        #expect(rx.isParked == false)
        try tx.send(4)
        #expect(try await rx.value() == 4)
    }

    @Test func sendRacingWithAWaitingReceiverNeverLosesTheValue() async throws {
        for i in 0..<500 {
            let (tx, rx) = Oneshot.channel(of: Int.self)
            async let v = rx.value()
            try tx.send(i)
            #expect(try await v == i)
        }
    }
}

@Suite struct OneshotBlockingTests {
    @Test func blockingRecvReturnsAValueSentFromAnotherThread() throws {
        let (tx, rx) = Oneshot.channel(of: Int.self)
        let thread = Thread { try? tx.send(42) }
        thread.start()
        #expect(try rx.blockingRecv(timeoutMs: 10_000) == 42)
    }

    @Test func blockingRecvTimesOutWithNilAndLeavesNoWaiter() throws {
        let (tx, rx) = Oneshot.channel(of: Int.self)
        #expect(try rx.blockingRecv(timeoutMs: 20) == nil)
        #expect(!rx.isParked)
        try tx.send(7)
        #expect(try rx.blockingRecv(timeoutMs: 0) == 7)
    }

    @Test func blockingRecvFailsWhenTheSenderGoesAwayWithoutSending() {
        let rx = Oneshot.channel(of: Int.self).1  // the sender goes away at once, without sending
        #expect(throws: OneshotRecvError.closed) { try rx.blockingRecv(timeoutMs: 10_000) }
    }
}
