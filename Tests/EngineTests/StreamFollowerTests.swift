// A node's order for one topic: next at once, repeats dropped, gaps back-filled or counted, new epochs restarted.
import Testing
@testable import Broker


@Suite struct StreamFollowerTests {
    @Test func theNextMessageGoesOnAtOnceAndRepeatsAreDropped() {
        var follower = StreamFollower(epoch: e1, last: 10)
        #expect(follower.receive(message(11)) == .deliver([message(11)]))
        #expect(follower.receive(message(12)) == .deliver([message(12)]))
        #expect(follower.receive(message(12)) == .wait)
        #expect(follower.receive(message(3)) == .wait)
        #expect(follower.last == 12)
    }

    @Test func theFirstMessageSetsTheEpoch() {
        var follower = StreamFollower()
        #expect(follower.receive(message(1)) == .deliver([message(1)]))
        #expect(follower.epoch == e1)
    }

    @Test func aGapIsFetchedAndWhatCameMeanwhileFollowsInOrder() {
        var follower = StreamFollower(epoch: e1, last: 10)
        #expect(follower.receive(message(14)) == .fetch(after: 10))
        #expect(follower.receive(message(16)) == .wait)
        #expect(follower.receive(message(15)) == .wait)
        #expect(follower.receive(message(15)) == .wait)  // a repeat while held: kept once
        let (outcomes, more) = follower.backFilled(entries(11...15), generation: follower.generation)
        #expect(!more)
        #expect(described(outcomes) == ["11", "12", "13", "14", "15", "16"])
        #expect(follower.last == 16 && !follower.fetching)
        #expect(follower.receive(message(17)) == .deliver([message(17)]))
    }

    @Test func whatTheStreamNoLongerHoldsIsCountedNeverSkipped() {
        var follower = StreamFollower(epoch: e1, last: 10)
        #expect(follower.receive(message(30)) == .fetch(after: 10))
        // The stream was trimmed: it starts at 25 (11...24 are gone), and 27 is missing from it too.
        let (outcomes, _) = follower.backFilled(entries([25, 26, 28, 29]), generation: follower.generation)
        #expect(described(outcomes) == ["lost 14", "25", "26", "lost 1", "28", "29", "30"])
        // Every sequence from 11 to 30 is either handed on or inside exactly one count.
        let handed = outcomes.reduce(UInt64(0)) { sum, outcome in
            switch outcome {
            case .message: sum + 1
            case let .lost(n): sum + n
            }
        }
        #expect(handed == 20)
    }

    @Test func anEmptyReadCountsTheWholeGap() {
        var follower = StreamFollower(epoch: e1, last: 10)
        _ = follower.receive(message(20))
        #expect(described(follower.backFilled([], generation: follower.generation).outcomes) == ["lost 9", "20"])
    }

    @Test func aReadCutShortByItsCountAsksAgainFromWhereItStopped() {
        var follower = StreamFollower(epoch: e1, last: 0)
        #expect(follower.receive(message(500)) == .fetch(after: 0))
        var (outcomes, more) = follower.backFilled(entries(1...200), complete: false, generation: follower.generation)
        #expect(more && outcomes.count == 200 && follower.last == 200 && follower.fetching)
        (outcomes, more) = follower.backFilled(entries(201...400), complete: false, generation: follower.generation)
        #expect(more && follower.last == 400)
        (outcomes, more) = follower.backFilled(entries(401...499), complete: true, generation: follower.generation)
        #expect(!more)
        #expect(described(outcomes).last == "500" && outcomes.count == 100)
        // A short read that reaches the held messages is complete whatever it says.
        var other = StreamFollower(epoch: e1, last: 0)
        _ = other.receive(message(3))
        #expect(other.backFilled(entries(1...5), complete: false, generation: other.generation).more == false)
        #expect(other.last == 3)
    }

    @Test func anotherEpochRestartsFromItsFirstMessage() {
        var follower = StreamFollower(epoch: e1, last: 40)
        #expect(follower.receive(message(1, e2)) == .restart(epoch: e2, then: [message(1, e2)]))
        #expect(follower.epoch == e2 && follower.last == 1)
        #expect(follower.receive(message(2, e2)) == .deliver([message(2, e2)]))
    }

    @Test func anotherEpochFoundMidStreamIsBackFilledFromItsBeginning() {
        var follower = StreamFollower(epoch: e1, last: 40)
        _ = follower.receive(message(45))  // a fetch for the old stream is out
        let oldGeneration = follower.generation
        #expect(follower.receive(message(3, e2)) == .restart(epoch: e2, then: []))
        #expect(follower.pendingFetch == 0)
        // The old stream's answer, arriving now, is dropped; the new stream's is taken.
        #expect(follower.backFilled(entries(41...44), generation: oldGeneration).outcomes.isEmpty)
        #expect(follower.fetching && follower.last == 0)
        let (outcomes, _) = follower.backFilled(entries([1, 2]), generation: follower.generation)
        #expect(described(outcomes) == ["1", "2", "3"])
        #expect(outcomes.allSatisfy { if case let .message(m) = $0 { m.epoch == e2 } else { false } })
    }

    @Test func anAnswerWithoutAFetchChangesNothing() {
        var follower = StreamFollower(epoch: e1, last: 5)
        #expect(follower.backFilled(entries(6...9), generation: follower.generation).outcomes.isEmpty)
        #expect(follower.last == 5)
    }
}
