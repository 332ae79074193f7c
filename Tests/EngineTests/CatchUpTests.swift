// A node that lost its view of a stream reads it again: what it missed goes on in order, what is gone is counted, a new epoch restarts.
import Testing
@testable import Broker

private func described(_ result: StreamFollower.CatchUp) -> [String] {
    guard case let .outcomes(outcomes, thenFetch) = result else { return ["restart"] }
    return described(outcomes) + (thenFetch.map { ["fetch after \($0)"] } ?? [])
}

@Suite struct CatchUpTests {
    @Test func aFirstReadHandsOnWhatTheStreamHoldsAndCountsWhatItNoLongerHolds() {
        var follower = StreamFollower()
        follower.pause()
        #expect(described(follower.caughtUp(epoch: e1, head: 10, entries: entries(7...10))) == ["lost 6", "7", "8", "9", "10"])
        #expect(follower.last == 10)
        #expect(!follower.fetching)
        #expect(follower.receive(message(11)) == .deliver([message(11)]))
    }

    @Test func anEmptyStreamWithAHeadMovesTheFollowerToIt() {
        var follower = StreamFollower()
        follower.pause()
        #expect(described(follower.caughtUp(epoch: e1, head: 4, entries: [])) == ["lost 4"])
        #expect(follower.last == 4)
        var fresh = StreamFollower()
        fresh.pause()
        #expect(described(fresh.caughtUp(epoch: e1, head: 0, entries: [])) == [])
        #expect(fresh.receive(message(1)) == .deliver([message(1)]))
    }

    @Test func whatCameDuringThePauseGoesOnAfterTheStreamsEntriesOnce() {
        var follower = StreamFollower(epoch: e1, last: 5)
        follower.pause()
        #expect(follower.receive(message(8)) == .wait, "held while paused")
        #expect(follower.receive(message(10)) == .wait)
        var again = follower
        #expect(again.receive(message(9, e1)) == .wait)
        #expect(described(again.caughtUp(epoch: e1, head: 8, entries: entries(6...8))) == ["6", "7", "8", "9", "10"],
                "with 9 held too, nothing is fetched")
        // The read saw the stream up to 8 (8 twice: read and held); 10 came after it, and 9
        // (published after the read) was missed: it is fetched, not counted as lost.
        #expect(described(follower.caughtUp(epoch: e1, head: 8, entries: entries(6...8))) == ["6", "7", "8", "fetch after 8"])
        #expect(follower.last == 8)
        #expect(follower.fetching)
        let (outcomes, more) = follower.backFilled(entries(9...10), generation: follower.generation)
        #expect(outcomes == [.message(message(9)), .message(message(10))])
        #expect(!more)
        #expect(follower.last == 10)
        #expect(!follower.fetching)
    }

    @Test func aFetchAskedBeforeThePauseIsAnsweredNoMore() {
        var follower = StreamFollower(epoch: e1, last: 1)
        #expect(follower.receive(message(3)) == .fetch(after: 1))
        let asked = follower.generation
        follower.pause()
        #expect(described(follower.caughtUp(epoch: e1, head: 3, entries: entries(2...3))) == ["2", "3"])
        #expect(follower.backFilled(entries(2...2), generation: asked).outcomes.isEmpty)
        #expect(follower.last == 3)
    }

    @Test func anotherEpochRestartsFromNothing() {
        var follower = StreamFollower(epoch: e1, last: 40)
        follower.pause()
        #expect(follower.receive(message(2, e1)) == .wait)
        #expect(described(follower.caughtUp(epoch: e2, head: 3, entries: entries(1...3))) == ["restart"])
        #expect(follower.epoch == e2)
        #expect(follower.last == 0)
        #expect(follower.fetching, "still paused: the new stream is read from its start next")
        #expect(described(follower.caughtUp(epoch: e2, head: 3, entries: entries(1...3))) == ["1", "2", "3"])
    }
}

@Suite struct RedisNamesTests {
    @Test func aChannelNameGivesBackItsTopic() {
        let keys = RedisTopicKeys(prefix: RedisTopicStore.keyPrefix, topic: Array("a.{b}.c".utf8))
        #expect(RedisTopicStore.topicName(ofChannel: keys.channel) == Array("a.{b}.c".utf8))
        #expect(RedisTopicStore.topicName(ofChannel: Array("broker:{x}:s".utf8)) == nil)
        #expect(RedisTopicStore.topicName(ofChannel: Array("other:{x}:c".utf8)) == nil)
        #expect(RedisTopicStore.topicName(ofChannel: Array("broker:{}:c".utf8)) == nil)
    }

    @Test func aPatternBecomesAGlobOverEveryChannelItCouldMatch() {
        func glob(_ pattern: String) -> String {
            String(decoding: RedisTopicStore.channelPattern(for: Array(pattern.utf8)), as: UTF8.self)
        }
        #expect(glob("orders.*") == "broker:{orders.*}:c")
        #expect(glob("orders.>") == "broker:{orders.*}:c")
        #expect(glob("*.eu.>") == "broker:{*.eu.*}:c")
        #expect(glob("a[1]?.*") == "broker:{a\\[1\\]\\?.*}:c", "glob characters in a token are literal")
    }
}
