import Testing
@testable import Channels

@Suite struct WatchTests {
    @Test func theValueAtSubscribeCountsAsSeen() throws {
        let (tx, rx) = Watch.channel(initial: "one")
        #expect(rx.borrow() == "one")
        #expect(try rx.hasChanged() == false)
        tx.send("two")
        let rx2 = tx.subscribe()
        #expect(try rx.hasChanged() == true)
        #expect(try rx2.hasChanged() == false)
        #expect(rx2.borrow() == "two")
    }

    @Test func changedWaitsForANewerVersionAndMarksItSeen() async throws {
        let (tx, rx) = Watch.channel(initial: 0)
        let t = Task { () -> Int in
            try await rx.changed()
            return rx.borrow()
        }
        #expect(await waitUntil { rx.channelParkedCount == 1 })
        tx.send(1)
        #expect(try await t.value == 1)
        #expect(try rx.hasChanged() == false)
    }

    @Test func valuesSentInBetweenCoalesce() async throws {
        let (tx, rx) = Watch.channel(initial: 0)
        for i in 1...5 { tx.send(i) }
        try await rx.changed()
        #expect(rx.borrow() == 5)
        #expect(try rx.hasChanged() == false)
    }

    @Test func everyReceiverObservesTheChange() async throws {
        let (tx, rx1) = Watch.channel(initial: 0)
        let rx2 = tx.subscribe()
        let t1 = Task { try await rx1.changed(); return rx1.borrowAndUpdate() }
        let t2 = Task { try await rx2.changed(); return rx2.borrowAndUpdate() }
        #expect(await waitUntil { rx1.channelParkedCount == 2 })
        tx.send(7)
        #expect(try await t1.value == 7)
        #expect(try await t2.value == 7)
    }

    @Test func changedFailsOnlyAfterTheSenderIsGoneAndTheLastValueWasSeen() async throws {
        let rx = { () -> WatchReceiver<Int> in
            let (tx, rx) = Watch.channel(initial: 0)
            tx.send(1)
            return rx
        }()
        try await rx.changed()  // the last value, sent before the sender went away
        #expect(rx.borrow() == 1)
        await #expect(throws: WatchChangedError.closed) { try await rx.changed() }
    }

    @Test func aWaitingReceiverIsWokenWhenTheSenderCloses() async throws {
        let (tx, rx) = Watch.channel(initial: 0)
        let t = Task { () -> WatchChangedError? in
            do throws(WatchChangedError) { try await rx.changed(); return nil } catch { return error }
        }
        #expect(await waitUntil { rx.channelParkedCount == 1 })
        tx.close()
        #expect(await t.value == .closed)
        #expect(rx.borrow() == 0)
    }

    @Test func borrowAndUpdateMarksSeen() throws {
        let (tx, rx) = Watch.channel(initial: 0)
        tx.send(2)
        #expect(try rx.hasChanged())
        #expect(rx.borrowAndUpdate() == 2)
        #expect(try rx.hasChanged() == false)
    }

    @Test func cancellingChangedLeavesNoWaiter() async throws {
        let (tx, rx) = Watch.channel(initial: 0)
        let t = Task { () -> WatchChangedError? in
            do throws(WatchChangedError) { try await rx.changed(); return nil } catch { return error }
        }
        #expect(await waitUntil { rx.channelParkedCount == 1 })
        t.cancel()
        #expect(await t.value == .cancelled)
        #expect(rx.channelParkedCount == 0)
        tx.send(1)
        #expect(try rx.hasChanged())
    }

    @Test func sendWithoutReceiversStillReplacesTheValue() {
        let (tx, _) = Watch.channel(initial: 0)
        #expect(tx.receiverCount == 0)
        #expect(tx.send(3) == 0)
        #expect(tx.current == 3)
    }

    @Test(.timeLimit(.minutes(5)))
    func stressReceiversSeeNonDecreasingValuesAndTheLastOne() async throws {
        let (tx, rx0) = Watch.channel(initial: 0)
        let receivers = (0..<4).map { _ in tx.subscribe() }
        _ = rx0
        let tasks = receivers.map { rx in
            Task { () -> (Bool, Int) in
                var last = 0, monotonic = true
                while true {
                    do throws(WatchChangedError) { try await rx.changed() } catch { break }
                    let v = rx.borrow()
                    if v < last { monotonic = false }
                    last = v
                }
                return (monotonic, rx.borrow())
            }
        }
        for i in 1...20_000 {
            tx.send(i)
            if i % 100 == 0 { await Task.yield() }
        }
        tx.close()
        for t in tasks {
            let (monotonic, final) = await t.value
            #expect(monotonic)
            #expect(final == 20_000)
        }
    }
}
