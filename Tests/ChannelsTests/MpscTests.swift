import Synchronization
import Testing
@testable import Channels

private func trySendOutcome<T>(_ tx: MpscSender<T>, _ v: T) -> String {
    do throws(MpscTrySendError<T>) { try tx.trySend(v); return "ok" } catch {
        switch error {
        case .full: return "full"
        case .closed: return "closed"
        }
    }
}

private func tryRecvOutcome<T>(_ rx: MpscReceiver<T>) -> String {
    do throws(MpscTryRecvError) { return "\(try rx.tryRecv())" } catch { return "\(error)" }
}

@Suite struct MpscTests {
    @Test func sendAndRecvWithABuffer() async throws {
        let (tx, rx) = try Mpsc.bounded(of: Int.self, capacity: 16)
        try await tx.send(1)
        try await tx.send(2)
        tx.close()
        #expect(await rx.recv() == 1)
        #expect(await rx.recv() == 2)
        #expect(await rx.recv() == nil)
    }

    @Test func capacityBelowOneIsRejected() {
        #expect(throws: BroadcastChannelError.invalidCapacity(0)) { try Mpsc.bounded(of: Int.self, capacity: 0) }
    }

    @Test func trySendReportsFullAndHandsTheValueBack() throws {
        let (tx, rx) = try Mpsc.bounded(of: Int.self, capacity: 1)
        #expect(trySendOutcome(tx, 1) == "ok")
        do throws(MpscTrySendError<Int>) { try tx.trySend(2) } catch {
            guard case .full(let v) = error else { Issue.record("expected full"); return }
            #expect(v == 2)
        }
        #expect(tryRecvOutcome(rx) == "1")
        #expect(trySendOutcome(tx, 3) == "ok")
    }

    @Test func aFullBoundedSendSuspendsUntilTheReceiverFreesASlot() async throws {
        let (tx, rx) = try Mpsc.bounded(of: Int.self, capacity: 1)
        try await tx.send(1)
        let t = Task { try await tx.send(2) }
        #expect(await waitUntil { rx.parkedSenderCount == 1 })
        #expect(await rx.recv() == 1)
        try await t.value
        #expect(await rx.recv() == 2)
        #expect(rx.parkedSenderCount == 0)
    }

    @Test func recvReturnsNilOnceEverySenderIsGoneAndTheBufferIsDrained() async throws {
        let (tx, rx) = try Mpsc.bounded(of: Int.self, capacity: 4)
        var tx2: MpscSender<Int>? = tx.clone()
        try await tx.send(1)
        tx.close()
        try await tx2?.send(2)
        let waiting = Task { () -> [Int?] in [await rx.recv(), await rx.recv(), await rx.recv()] }
        tx2 = nil
        #expect(await waiting.value == [1, 2, nil])
    }

    @Test func aWaitingRecvWakesWhenTheLastSenderGoes() async throws {
        let (tx, rx) = try Mpsc.bounded(of: Int.self, capacity: 4)
        let t = Task { await rx.recv() }
        #expect(await waitUntil { rx.isReceiverParked })
        tx.close()
        #expect(await t.value == nil)
    }

    @Test func closingTheReceiverFailsSendersButKeepsBufferedValues() async throws {
        let (tx, rx) = try Mpsc.bounded(of: Int.self, capacity: 1)
        try await tx.send(1)
        let blocked = Task { () -> Int? in
            do throws(MpscSendError<Int>) { try await tx.send(2); return nil } catch {
                guard case .closed(let v) = error else { return -1 }
                return v
            }
        }
        #expect(await waitUntil { rx.parkedSenderCount == 1 })
        rx.close()
        #expect(await blocked.value == 2)
        #expect(trySendOutcome(tx, 3) == "closed")
        #expect(await rx.recv() == 1)
        #expect(await rx.recv() == nil)
    }

    @Test func droppingTheReceiverClosesTheChannelAndReleasesValues() throws {
        let counter = DeinitCounter()
        var pair: (MpscSender<Tracked>, MpscReceiver<Tracked>)? = try Mpsc.bounded(of: Tracked.self, capacity: 4)
        let tx = pair?.0
        try tx?.trySend(Tracked(1, counter))
        try tx?.trySend(Tracked(2, counter))
        pair = nil
        #expect(counter.value == 2)
        #expect(tx?.isClosed == true)
    }

    @Test func tryRecvReportsEmptyThenDisconnected() throws {
        let (tx, rx) = try Mpsc.bounded(of: Int.self, capacity: 4)
        #expect(tryRecvOutcome(rx) == "empty")
        try tx.trySend(5)
        tx.close()
        #expect(tryRecvOutcome(rx) == "5")
        #expect(tryRecvOutcome(rx) == "disconnected")
    }

    @Test func unboundedSendsNeverWaitAndKeepOrder() async throws {
        let (tx, rx) = Mpsc.unbounded(of: Int.self)
        for i in 0..<10_000 { try tx.send(i) }
        tx.close()
        var next = 0
        while let v = await rx.recv() {
            #expect(v == next)
            next += 1
        }
        #expect(next == 10_000)
    }

    @Test func unboundedSendFailsWithTheValueAfterTheReceiverCloses() throws {
        let (tx, rx) = Mpsc.unbounded(of: Int.self)
        rx.close()
        do throws(MpscSendError<Int>) { try tx.send(7) } catch { #expect(error.value == 7) }
    }

    @Test func cancellingABlockedSendLeavesNoWaiterAndReturnsTheValue() async throws {
        let (tx, rx) = try Mpsc.bounded(of: Int.self, capacity: 1)
        try await tx.send(1)
        let t = Task { () -> String in
            do throws(MpscSendError<Int>) { try await tx.send(2); return "sent" } catch {
                if case .cancelled(let v) = error { return "cancelled(\(v))" }
                return "closed"
            }
        }
        #expect(await waitUntil { rx.parkedSenderCount == 1 })
        t.cancel()
        #expect(await t.value == "cancelled(2)")
        #expect(rx.parkedSenderCount == 0)
        #expect(tryRecvOutcome(rx) == "1")
        #expect(tryRecvOutcome(rx) == "empty")
    }

    @Test func cancellingAWaitingRecvLeavesNoWaiterAndLosesNoValue() async throws {
        let (tx, rx) = try Mpsc.bounded(of: Int.self, capacity: 2)
        let t = Task { await rx.recv() }
        #expect(await waitUntil { rx.isReceiverParked })
        t.cancel()
        #expect(await t.value == nil)
        #expect(rx.isReceiverParked == false)
        try tx.trySend(3)
        #expect(tryRecvOutcome(rx) == "3")
    }

    @Test func armWakerIsCalledOnceAfterASendAndReadBatchDrains() throws {
        let (tx, rx) = try Mpsc.bounded(of: Int.self, capacity: 8)
        let w = CountingWaker {
            // Re-entrant read from inside the wake-up must not deadlock.
            _ = try? rx.tryRecv()
        }
        #expect(rx.armWaker(w))
        try tx.trySend(1)
        try tx.trySend(2)
        #expect(w.count == 1)
        #expect(rx.armWaker(w) == false)  // 2 is still buffered
        try tx.trySend(3)
        let buf = UnsafeMutableBufferPointer<Int>.allocate(capacity: 8)
        defer { buf.deallocate() }
        buf.initialize(repeating: 0)
        let r = rx.readBatch(into: buf)
        #expect(r.count == 2 && Array(buf.prefix(2)) == [2, 3] && !r.finished)
        tx.close()
        #expect(rx.armWaker(w) == false)  // finished
        #expect(rx.readBatch(into: buf).finished)
    }

    @Test func readBatchWakesBlockedSenders() async throws {
        let (tx, rx) = try Mpsc.bounded(of: Int.self, capacity: 2)
        try await tx.send(0)
        try await tx.send(1)
        let t = Task { for i in 2..<6 { try await tx.send(i) } }
        let buf = UnsafeMutableBufferPointer<Int>.allocate(capacity: 4)
        defer { buf.deallocate() }
        buf.initialize(repeating: 0)
        var got: [Int] = []
        while got.count < 6 {
            let r = rx.readBatch(into: buf)
            got += buf.prefix(r.count)
            if r.count == 0 { await Task.yield() }
        }
        try await t.value
        #expect(got == Array(0..<6))
    }

    @Test(.timeLimit(.minutes(5)))
    func stressManyProducersKeepPerProducerFifoAndLoseNothing() async throws {
        let producers = 4, each = 5000
        let (tx, rx) = try Mpsc.bounded(of: Int.self, capacity: 8)
        let consumer = Task { () -> (Int, Bool) in
            var next = [Int](repeating: 0, count: producers)
            var n = 0, ordered = true
            while let v = await rx.recv() {
                let p = v / 1_000_000, i = v % 1_000_000
                if next[p] != i { ordered = false }
                next[p] = i + 1
                n += 1
            }
            return (n, ordered)
        }
        await withTaskGroup(of: Void.self) { g in
            for p in 0..<producers {
                let h = tx.clone()
                g.addTask {
                    var rng = SplitMix(state: UInt64(p + 7))
                    for i in 0..<each {
                        try? await h.send(p * 1_000_000 + i)
                        if rng.next() % 8 == 0 { await Task.yield() }
                    }
                }
            }
            tx.close()
        }
        let (n, ordered) = await consumer.value
        #expect(n == producers * each)
        #expect(ordered)
    }
}
