// The version 2 sequence rule without sockets: gaps, LAGGED sums, pattern restarts, queue groups, overlapping subscriptions.
import BrokerClient
import Testing

@Suite struct SequenceRule {
    /// A checker with one plain subscription to `t` whose SUB reply said head `head`.
    private func plain(head: UInt64 = 0) -> SequenceChecker {
        let checker = SequenceChecker()
        checker.subscribed(id: 1, pattern: "t", isGroup: false, start: head, epoch: "e1")
        return checker
    }

    @Test func consecutiveSequencesAfterTheHeadAreInOrder() throws {
        let checker = plain(head: 10)
        for seq in UInt64(11)...20 { #expect(try checker.message(topic: "t", seq: seq) == .accounted) }
        #expect(checker.lastSequence(of: 1, on: "t") == 20)
        #expect(checker.epoch(of: "t") == "e1")
    }

    @Test func aGapExactlyCoveredByLaggedFramesIsAccounted() throws {
        let checker = plain(head: 0)
        try checker.message(topic: "t", seq: 1)
        try checker.lagged(topic: "t", count: 3)
        try checker.lagged(topic: "t", count: 2)
        #expect(try checker.message(topic: "t", seq: 7) == .accounted)
        #expect(try checker.message(topic: "t", seq: 8) == .accounted)
    }

    @Test func aGapNoLaggedReportedIsUnreported() throws {
        let checker = plain(head: 0)
        try checker.message(topic: "t", seq: 1)
        #expect(try checker.message(topic: "t", seq: 5) == .unreported(missing: 3))
        // The rule goes on from the message after the gap.
        #expect(try checker.message(topic: "t", seq: 6) == .accounted)
    }

    @Test func aGapLargerThanItsLaggedSumIsUnreportedByTheDifference() throws {
        let checker = plain(head: 0)
        try checker.message(topic: "t", seq: 1)
        try checker.lagged(topic: "t", count: 2)
        #expect(try checker.message(topic: "t", seq: 10) == .unreported(missing: 6))
    }

    @Test func theFirstMessageIsCheckedAgainstTheHeadOfTheReply() throws {
        let checker = plain(head: 41)
        #expect(try checker.message(topic: "t", seq: 45) == .unreported(missing: 3))
    }

    @Test func laggedCountsAboveTheGapAreAViolation() throws {
        let checker = plain(head: 0)
        try checker.message(topic: "t", seq: 1)
        try checker.lagged(topic: "t", count: 5)
        #expect(throws: SequenceViolation(topic: "t", reason: "LAGGED counted 5 messages but 2 are missing before 4")) {
            try checker.message(topic: "t", seq: 4)
        }
    }

    @Test func aSequenceThatGoesBackOnAConcreteTopicIsAViolation() throws {
        let checker = plain(head: 0)
        try checker.message(topic: "t", seq: 1)
        try checker.message(topic: "t", seq: 2)
        #expect(throws: SequenceViolation(topic: "t", reason: "sequence 2 after 2")) { try checker.message(topic: "t", seq: 2) }
        // The last good position stays.
        #expect(checker.lastSequence(of: 1, on: "t") == 2)
    }

    @Test func aFrameNoSubscriptionAskedForIsAViolation() throws {
        let checker = plain()
        #expect(throws: SequenceViolation.self) { try checker.message(topic: "other", seq: 1) }
        #expect(throws: SequenceViolation.self) { try checker.lagged(topic: "other", count: 1) }
    }

    @Test func lastStartsTheRuleAtTheFirstMessage() throws {
        let checker = SequenceChecker()
        checker.subscribed(id: 1, pattern: "t", isGroup: false, start: nil, epoch: "e1")
        #expect(try checker.message(topic: "t", seq: 97) == .accounted)
        #expect(try checker.message(topic: "t", seq: 99) == .unreported(missing: 1))
    }

    @Test func aPatternStartsTheRuleAtEachTopicsFirstMessage() throws {
        let checker = SequenceChecker()
        checker.subscribed(id: 1, pattern: "a.*", isGroup: false, start: nil, epoch: nil)
        #expect(try checker.message(topic: "a.x", seq: 40) == .accounted)
        #expect(try checker.message(topic: "a.y", seq: 7) == .accounted)
        #expect(try checker.message(topic: "a.x", seq: 42) == .unreported(missing: 1))
        #expect(checker.epoch(of: "a.x") == nil)
    }

    @Test func aPatternSequenceNotAboveTheLastStartsANewStream() throws {
        let checker = SequenceChecker()
        checker.subscribed(id: 1, pattern: "a.>", isGroup: false, start: nil, epoch: nil)
        try checker.message(topic: "a.b", seq: 5)
        try checker.message(topic: "a.b", seq: 6)
        #expect(try checker.message(topic: "a.b", seq: 1) == .newStream)
        #expect(try checker.message(topic: "a.b", seq: 2) == .accounted)
        #expect(try checker.message(topic: "a.b", seq: 2) == .newStream)  // equal is not above
        #expect(try checker.message(topic: "a.b", seq: 4) == .unreported(missing: 1))
    }

    @Test func aPatternLagMoreThanTheGapCanOnlyBeANewStream() throws {
        let checker = SequenceChecker()
        checker.subscribed(id: 1, pattern: "a.*", isGroup: false, start: nil, epoch: nil)
        try checker.message(topic: "a.b", seq: 5)
        // The old stream was freed; the new one lagged its first six messages for this subscription.
        try checker.lagged(topic: "a.b", count: 6)
        #expect(try checker.message(topic: "a.b", seq: 7) == .newStream)
        #expect(try checker.message(topic: "a.b", seq: 8) == .accounted)
    }

    @Test func queueGroupMembersAreExemptFromTheGapRule() throws {
        let checker = SequenceChecker()
        checker.subscribed(id: 1, pattern: "jobs", isGroup: true, start: 0, epoch: "e1")
        #expect(try checker.message(topic: "jobs", seq: 2) == .accounted)
        #expect(try checker.message(topic: "jobs", seq: 9) == .accounted)
        try checker.lagged(topic: "jobs", count: 4)  // messages no member will get: reported as they are
        #expect(try checker.message(topic: "jobs", seq: 11) == .accounted)
        // Still increasing on a concrete topic.
        #expect(throws: SequenceViolation.self) { try checker.message(topic: "jobs", seq: 3) }
    }

    @Test func overlappingSubscriptionsEachGetTheirCopy() throws {
        let checker = SequenceChecker()
        checker.subscribed(id: 1, pattern: "a.b", isGroup: false, start: 4, epoch: "e1")
        checker.subscribed(id: 2, pattern: "a.*", isGroup: false, start: nil, epoch: nil)
        // Each message comes twice, in any interleaving.
        for seq in [UInt64(5), 5, 6, 7, 6, 7] { #expect(try checker.message(topic: "a.b", seq: seq) == .accounted) }
        #expect(checker.lastSequence(of: 1, on: "a.b") == 7)
        #expect(checker.lastSequence(of: 2, on: "a.b") == 7)
    }

    @Test func overlappingSubscriptionsAccountLagForTheTopicAsAWhole() throws {
        let checker = SequenceChecker()
        checker.subscribed(id: 1, pattern: "a.b", isGroup: false, start: 0, epoch: "e1")
        checker.subscribed(id: 2, pattern: "a.>", isGroup: false, start: nil, epoch: nil)
        try checker.message(topic: "a.b", seq: 1)
        try checker.message(topic: "a.b", seq: 1)
        // One copy lagged three, the other skipped two without a report.
        try checker.lagged(topic: "a.b", count: 3)
        var unreported: UInt64 = 0
        for seq in [UInt64(5), 4] {
            if case let .unreported(missing) = try checker.message(topic: "a.b", seq: seq) { unreported += missing }
        }
        #expect(unreported == 2)  // 3 + 2 missing in all, 3 reported
    }

    @Test func unsubscribingRemovesTheSubscriptionsLanes() throws {
        let checker = SequenceChecker()
        checker.subscribed(id: 1, pattern: "a.b", isGroup: false, start: 0, epoch: "e1")
        checker.subscribed(id: 2, pattern: "a.*", isGroup: false, start: nil, epoch: nil)
        try checker.message(topic: "a.b", seq: 1)
        try checker.message(topic: "a.b", seq: 1)
        checker.unsubscribed(id: 1)
        #expect(checker.epoch(of: "a.b") == nil)  // only a pattern left: the stream may be freed
        #expect(try checker.message(topic: "a.b", seq: 3) == .unreported(missing: 1))
        checker.unsubscribed(id: 2)
        #expect(throws: SequenceViolation.self) { try checker.message(topic: "a.b", seq: 4) }
    }

    @Test func aSubscriptionMadeLaterJoinsTopicsAlreadySeen() throws {
        let checker = SequenceChecker()
        checker.subscribed(id: 1, pattern: "a.*", isGroup: false, start: nil, epoch: nil)
        try checker.message(topic: "a.b", seq: 3)
        checker.subscribed(id: 2, pattern: "a.b", isGroup: false, start: 3, epoch: "e9")
        #expect(checker.epoch(of: "a.b") == "e9")
        #expect(try checker.message(topic: "a.b", seq: 4) == .accounted)
        #expect(try checker.message(topic: "a.b", seq: 4) == .accounted)
    }

    @Test func reservedTopicsDoNotMatchALeadingWildcard() throws {
        let checker = SequenceChecker()
        checker.subscribed(id: 1, pattern: ">", isGroup: false, start: nil, epoch: nil)
        #expect(throws: SequenceViolation.self) { try checker.message(topic: "$SYS.lagged", seq: 1) }
        #expect(try checker.message(topic: "x", seq: 1) == .accounted)
    }
}
