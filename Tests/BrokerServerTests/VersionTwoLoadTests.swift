// Version 2 under load over real TCP: the frame check under forced lag, resume after a kill and
// after a broker restart, queue groups (steady, with a stalled member, with members coming and
// going), binary payloads split across writes, and the version 1 exception under load.
import Foundation
import Glibc
import Locks
import Testing

/// Runs a body on its own thread; ``join()`` waits for it and returns its result or rethrows.
final class Worker<T>: @unchecked Sendable {
    // @unchecked Sendable: `result` is written by the thread before `done` is signalled and read after.
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<T, Error>?

    init(_ body: @escaping @Sendable () throws -> T) {
        Thread { [self] in
            result = Result { try body() }
            done.signal()
        }.start()
    }

    func join() throws -> T {
        done.wait()
        done.signal()
        return try result!.get()
    }
}

extension FrameClient: @unchecked Sendable {}
// @unchecked Sendable: a client is read by one thread at a time; another may send meanwhile.

/// Publishes `PUB <topic> <payload(i)>` for every `i` in `range` on a version 2 connection, in
/// bursts of `burst` lines, reading each reply: it must be `OK <receivers> <epoch>:<i - range start + firstSeq>`
/// (any receiver count when `receivers` is nil), with one epoch.
/// Returns the epoch and the failures (at most a few).
@discardableResult
func publishV2(_ publisher: TestClient, topic: String, _ range: ClosedRange<Int>, firstSeq: Int? = nil, receivers: Int?,
               burst: Int = 500, payload: (Int) -> String = { "\($0)" }) throws -> (epoch: String, failures: [String]) {
    var failures: [String] = []
    var epoch = ""
    var next = range.lowerBound
    let offset = (firstSeq ?? range.lowerBound) - range.lowerBound
    while next <= range.upperBound {
        let end = min(range.upperBound, next + burst - 1)
        var lines = ""
        for i in next...end { lines += "PUB \(topic) \(payload(i))\n" }
        try publisher.sendRaw(lines)
        for i in next...end {
            let reply = try publisher.line()
            let parts = reply.split(separator: " ")
            let position = parts.count == 3 ? parts[2].split(separator: ":") : []
            if parts.count != 3 || parts[0] != "OK" || Int(parts[1]) == nil || (receivers != nil && Int(parts[1]) != receivers) || position.count != 2 || Int(position[1]) != i + offset
                || (!epoch.isEmpty && position[0] != epoch) {
                if failures.count < 5 { failures.append("PUB \(i): '\(reply)'") }
            } else if epoch.isEmpty {
                epoch = String(position[0])
            }
        }
        next = end + 1
    }
    return (epoch, failures)
}

/// A connection that said `HELLO 2`, read line by line (a publisher).
func v2Publisher(port: Int) throws -> TestClient {
    let client = try TestClient(port: port)
    #expect(try client.request("HELLO 2") == "OK 2")
    return client
}

/// What one group member read: the sequences of its MSGs, the LAGGED total, what was wrong.
struct Reading: Sendable {
    var seqs: [UInt64] = []
    var lagged: UInt64 = 0
    var failures: [String] = []
}

@Suite(.serialized) struct VersionTwoLoadTests {
    init() { raiseOpenFileLimit() }

    // MARK: The frame check under forced lag

    @Test func stalledSubscribersOfBothVersionsAccountForEverySequenceOnce() throws {
        let topic = "lag." + String(repeating: "v", count: 96)
        let published = 200_000
        try withBroker({ $0.capacity = 256 }) { broker in
            let concrete = try broker.frameClient(receiveBuffer: 4096)
            let pattern = try broker.frameClient(receiveBuffer: 4096)
            let old = try broker.frameClient(version: 1, receiveBuffer: 4096)
            #expect(try concrete.request("SUB \(topic)").subscribeReply?.head == 0)
            #expect(try pattern.request("SUB lag.>") == .ok(nil))
            #expect(try old.request("SUB \(topic)") == .ok(nil))

            // Nobody reads while every message is published.
            let publisher = try v2Publisher(port: broker.port)
            let result = try publishV2(publisher, topic: topic, 1...published, receivers: 3, burst: 1000)
            #expect(result.failures.isEmpty, "\(result.failures)")

            // Version 2: every sequence is a MSG or inside exactly one LAGGED, none twice.
            for (name, client, isPattern) in [("concrete", concrete, false), ("pattern", pattern, true)] {
                var rule = SequenceRule(pattern: isPattern)
                if !isPattern { rule.start(topic, after: 0) }
                var last: UInt64 = 0
                var badPayloads = 0
                while last < UInt64(published) {
                    let frame = try client.frame()
                    rule.check(frame)
                    switch frame {
                    case let .msg(t, seq?, payload) where t == topic:
                        if payload != digits(Int(seq)) { badPayloads += 1 }
                        last = seq
                    case .lagged(topic, _): break
                    default: Issue.record("\(name): unexpected \(frame)"); return
                    }
                }
                #expect(try client.barrier().isEmpty, "\(name): frames after the last message")
                #expect(rule.violations.isEmpty, "\(name): \(rule.violations.prefix(5))")
                #expect(badPayloads == 0, "\(name): payloads that are not their sequence")
                #expect(UInt64(rule.messages) + rule.lagged == UInt64(published), "\(name): \(rule.messages) MSG + \(rule.lagged) lagged")
                #expect(rule.lagged > 0, "\(name) never lagged: the test did not stall it")
            }

            // Version 1: received + Σ LAGGED = published, the payloads in order with gaps equal to the LAGGED counts.
            var received = 0
            var lagged = 0
            var next = 1
            var pending = 0
            while next <= published {
                let frame = try old.frame()
                switch frame {
                case let .lagged(t, count) where t == topic:
                    pending += Int(count)
                    lagged += Int(count)
                    next += Int(count)
                case let .msg(t, nil, payload) where t == topic:
                    guard let value = Int(String(decoding: payload, as: UTF8.self)), value == next else {
                        Issue.record("version 1: \(frame) where \(next) was due (LAGGED \(pending) before it)"); return
                    }
                    pending = 0
                    received += 1
                    next += 1
                default:
                    Issue.record("version 1: unexpected \(frame)"); return
                }
            }
            #expect(try old.barrier().isEmpty)
            #expect(received + lagged == published, "version 1: \(received) received + \(lagged) lagged")
            #expect(lagged > 0)
        }
    }

    @Test func aStalledPatternSubscriberIsToldWhatItMissedPerTopic() throws {
        let topics = ["multi.a", "multi.b", "multi.c"]
        let published = 60_000
        let padding = String(repeating: "m", count: 200)
        try withBroker({ $0.capacity = 128 }) { broker in
            let stalled = try broker.frameClient(receiveBuffer: 4096)
            #expect(try stalled.request("SUB multi.*") == .ok(nil))
            let publisher = try broker.connect()
            var sent = 0
            while sent < published {
                try publisher.sendRaw((sent..<(sent + 500)).map { "PUB \(topics[$0 % 3]) \($0 / 3 + 1) \(padding)\n" }.joined())
                for _ in 0..<500 { _ = try publisher.line() }
                sent += 500
            }
            var rule = SequenceRule(pattern: true)
            var perTopic: [String: (messages: Int, lagged: UInt64, first: UInt64?, laggedBeforeFirst: UInt64)] = [:]
            var done = Set<String>()
            while done.count < 3 {
                let frame = try stalled.frame()
                rule.check(frame)
                switch frame {
                case let .msg(topic, seq?, payload):
                    perTopic[topic, default: (0, 0, nil, 0)].messages += 1
                    if perTopic[topic]!.first == nil { perTopic[topic]!.first = seq }
                    #expect(payload.starts(with: digits(Int(seq)) + [0x20]), "\(frame)")
                    if seq == UInt64(published / 3) { done.insert(topic) }
                case let .lagged(topic, count):
                    perTopic[topic, default: (0, 0, nil, 0)].lagged += count
                    if perTopic[topic]!.first == nil { perTopic[topic]!.laggedBeforeFirst += count }
                default:
                    Issue.record("unexpected \(frame)"); return
                }
            }
            #expect(rule.violations.isEmpty, "\(rule.violations.prefix(5))")
            for topic in topics {
                let figures = try #require(perTopic[topic])
                // Every message of every topic is a MSG or counted (subscribed before the first): a first MSG
                // after 1 has LAGGED frames before it for exactly the ones before it.
                #expect(figures.first.map { $0 - 1 } == figures.laggedBeforeFirst, "\(topic): \(figures)")
                #expect(UInt64(figures.messages) + figures.lagged == UInt64(published / 3), "\(topic): \(figures)")
                #expect(figures.lagged > 0, "\(topic) never lagged")
            }
        }
    }

    // MARK: Resume

    @Test(arguments: [(capacity: 8192, whileAway: 400), (capacity: 256, whileAway: 3000)])
    func aKilledSubscriberResumesWithFromAndGetsExactlyTheRest(capacity: Int, whileAway: Int) throws {
        let topic = "resume.t"
        try withBroker({ $0.capacity = capacity }) { broker in
            let first = try broker.frameClient()
            let epoch = try #require(try first.request("SUB \(topic)").subscribeReply).epoch
            let killAt = 2000
            // The first subscriber reads on its own thread and is killed after `killAt` messages.
            let reader = Worker { () -> UInt64 in
                var last: UInt64 = 0
                var rule = SequenceRule()
                rule.start(topic, after: 0)
                while rule.messages < killAt {
                    let frame = try first.frame()
                    rule.check(frame)
                    if case let .msg(_, seq?, _) = frame { last = seq }
                }
                first.kill()
                #expect(rule.violations.isEmpty, "\(rule.violations.prefix(5))")
                return last
            }
            let publisher = try v2Publisher(port: broker.port)
            let midStream = 5000
            // The receiver count drops from 1 to 0 when the kill is seen.
            #expect(try publishV2(publisher, topic: topic, 1...midStream, receivers: nil, burst: 250).failures.isEmpty)
            let lastRead = try reader.join()
            // Wait until the broker saw the kill: the stream then lingers with no subscriber at all.
            let watcher = try broker.frameClient()
            let gone = try poll(watcher) { try topicStats(watcher, topic)?["subscribers"] == "0" }
            #expect(gone != nil, "the killed subscriber never left")
            let head = midStream + whileAway
            #expect(try publishV2(publisher, topic: topic, (midStream + 1)...head, receivers: 0).failures.isEmpty)

            // Restarted: from= the last sequence it read.
            let second = try broker.frameClient()
            let reply = try #require(try second.request("SUB \(topic) from=\(epoch):\(lastRead)").subscribeReply)
            #expect(reply.epoch == epoch && reply.head == UInt64(head), "from= not honored: \(reply)")
            let live = 200  // fewer than the capacity: the resumed subscriber, not reading yet, does not lag on them
            #expect(try publishV2(publisher, topic: topic, (head + 1)...(head + live), receivers: 1).failures.isEmpty)
            var frames: [Frame] = []
            var last: UInt64 = 0
            while last < UInt64(head + live) {
                let frame = try second.frame()
                frames.append(frame)
                if case let .msg(_, seq?, payload) = frame {
                    last = seq
                    #expect(payload == digits(Int(seq)))
                }
            }
            #expect(try second.barrier().isEmpty)
            // Exactly the rest: the ones no longer held counted first in one LAGGED, the held ones as MSG, then live.
            let missed = max(0, head - Int(lastRead) - capacity)
            // The first case keeps everything it missed, the second cannot.
            #expect((missed > 0) == (capacity < whileAway), "last read \(lastRead), head \(head)")
            var expected: [UInt64] = []
            var rule = SequenceRule()
            rule.start(topic, after: lastRead)
            for frame in frames { rule.check(frame) }
            for seq in (Int(lastRead) + missed + 1)...(head + live) { expected.append(UInt64(seq)) }
            let seqs = frames.compactMap { frame -> UInt64? in if case let .msg(_, seq?, _) = frame { return seq } else { return nil } }
            #expect(rule.violations.isEmpty, "\(rule.violations.prefix(5))")
            if missed > 0 {
                #expect(frames.first == .lagged(topic: topic, count: UInt64(missed)), "\(frames.prefix(2))")
                #expect(frames.dropFirst().allSatisfy { if case .msg = $0 { return true } else { return false } })
            } else {
                #expect(frames.allSatisfy { if case .msg = $0 { return true } else { return false } }, "\(frames.prefix(3))")
            }
            #expect(seqs == expected, "got \(seqs.count) messages from \(seqs.first ?? 0), expected \(expected.count) from \(expected.first ?? 0): \(rule.violations.prefix(3))")
        }
    }

    @Test func aBrokerRestartGivesNewEpochsAndFromWithAnOldEpochStartsAtTheHead() throws {
        var epochs: [String] = []
        var previous: String?
        var port = 0  // the first start picks one; the restarts listen on it again
        for round in 0..<3 {
            let file = try ConfigFile(["linger_ms 60000", "shutdown_grace_ms 0"])
            // (Should another process have taken the port meanwhile, any port will do: the epoch is the point.)
            let broker = try (try? BrokerProcess.start(["--config", file.path, "--port", "\(port)"]))
                ?? BrokerProcess.start(["--config", file.path, "--port", "0"])
            port = broker.port
            defer { broker.kill() }
            let publisher = try broker.frameClient()
            // Two messages before anyone subscribes: the head is 2.
            for n in 1...2 { #expect(try publisher.request("PUB restart.t before\(n)").publishReply?.seq == UInt64(n)) }
            let subscriber = try broker.frameClient()
            let from = previous.map { " from=\($0):1" } ?? ""
            let reply = try #require(try subscriber.request("SUB restart.t\(from)").subscribeReply)
            #expect(reply.head == 2, "round \(round): \(reply)")
            #expect(!epochs.contains(reply.epoch) && isValidEpoch(reply.epoch), "round \(round): epoch \(reply.epoch) after \(epochs)")
            // An old epoch is not honored: nothing is replayed, the first MSG follows the head.
            let sent = try #require(try publisher.request("PUB restart.t live").publishReply)
            #expect(sent.epoch == reply.epoch && sent.seq == 3)
            #expect(try subscriber.frame() == msg("restart.t", 3, "live"))
            epochs.append(reply.epoch)
            previous = reply.epoch
            subscriber.kill()
            publisher.kill()
            broker.signal(SIGTERM)
            #expect(try broker.waitForExit() == 0)
        }
        #expect(Set(epochs).count == 3, "\(epochs)")
    }

    // MARK: Queue groups

    /// What every member of a group has read so far, shared by their reader threads.
    struct Tally: Sendable {
        /// How often each sequence was delivered (index = sequence).
        var seen: [UInt8]
        var delivered = 0
        var lagged = 0
        /// Members whose reader has read their UNSUB reply.
        var leftMembers: Set<Int> = []
        init(published: Int) { seen = [UInt8](repeating: 0, count: published + 1) }

        /// Sequences above `boundary` delivered, plus everything counted in LAGGED frames.
        func accounted(above boundary: Int) -> Int {
            seen[(boundary + 1)...].reduce(0) { $0 + ($1 > 0 ? 1 : 0) } + lagged
        }
    }

    /// Reads member `index`'s frames on its own thread until `PONG end` or end of file: MSG sequences
    /// in increasing order with payloads `<seq>` (or `<seq> <padding>`), LAGGED counted, nothing after
    /// its UNSUB reply. Records every frame in `tally` as it goes.
    private static func memberReader(_ member: FrameClient, _ index: Int, topic: String, tally: PthreadLock<Tally>) -> Worker<Reading> {
        Worker {
            var reading = Reading()
            var last: UInt64 = 0
            var left = false
            while true {
                guard let frame = try member.next() else { return reading }  // killed
                switch frame {
                case let .msg(t, seq?, payload) where t == topic:
                    if left { reading.failures.append("MSG \(seq) after the UNSUB reply") }
                    if seq <= last { reading.failures.append("MSG \(seq) after \(last)") }
                    let number = digits(Int(seq))
                    if payload != number && !payload.starts(with: number + [0x20]) { reading.failures.append("MSG \(seq): \(frame)") }
                    last = seq
                    reading.seqs.append(seq)
                    tally.withLock {
                        if Int(seq) < $0.seen.count { $0.seen[Int(seq)] &+= 1 }
                        $0.delivered += 1
                    }
                case let .lagged(t, count) where t == topic:
                    if left { reading.failures.append("LAGGED after the UNSUB reply") }
                    reading.lagged += count
                    tally.withLock { $0.lagged += Int(count) }
                case .ok(nil):
                    left = true
                    tally.withLock { _ = $0.leftMembers.insert(index) }
                case .pong("end"):
                    return reading
                default:
                    reading.failures.append("unexpected \(frame)")
                }
                if reading.failures.count > 5 { return reading }
            }
        }
    }

    /// Waits (polling state the reader threads update; no broker involved) until `condition` holds.
    private static func waitFor(_ what: String, guardSeconds: Double = 30, _ condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(guardSeconds)
        while !condition() {
            if Date() > deadline { Issue.record("timed out waiting for \(what)"); return }
            usleep(2000)
        }
    }

    /// Checks the readings of a whole group: no sequence twice, and the totals.
    private static func checkGroup(_ readings: [Reading], tally: Tally, published: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        for (index, reading) in readings.enumerated() {
            #expect(reading.failures.isEmpty, "member \(index): \(reading.failures)", sourceLocation: sourceLocation)
        }
        let twice = tally.seen.enumerated().filter { $0.element > 1 }.map(\.offset)
        #expect(twice.isEmpty, "delivered more than once: \(twice.prefix(10))", sourceLocation: sourceLocation)
        #expect(readings.flatMap(\.seqs).allSatisfy { (1...UInt64(published)).contains($0) }, sourceLocation: sourceLocation)
    }

    @Test func threeMembersShareOneHundredThousandMessagesEachExactlyOnce() throws {
        let topic = "jobs"
        let published = 100_000
        try withBroker { broker in
            let members = try (0..<3).map { _ in try broker.frameClient() }
            for member in members { #expect(try member.request("SUB \(topic) group=workers").subscribeReply?.head == 0) }
            let tally = PthreadLock(Tally(published: published))
            let readers = members.enumerated().map { Self.memberReader($0.element, $0.offset, topic: topic, tally: tally) }
            let publisher = try v2Publisher(port: broker.port)
            let result = try publishV2(publisher, topic: topic, 1...published, receivers: 1, burst: 1000)
            #expect(result.failures.isEmpty, "a group counts as one subscription: \(result.failures)")
            Self.waitFor("every message delivered or counted") { tally.withLock { $0.delivered + $0.lagged } >= published }
            for member in members { try member.send("PING end") }
            let readings = try readers.map { try $0.join() }
            let final = tally.withLock { $0 }
            Self.checkGroup(readings, tally: final, published: published)
            #expect(final.delivered + final.lagged == published, "\(final.delivered) delivered + \(final.lagged) lagged")
        }
    }

    @Test func aMemberThatStopsReadingLeavesTheWorkToTheOthers() throws {
        let topic = "work"
        let published = 40_000
        let padding = String(repeating: "p", count: 500)
        try withBroker { broker in
            let stalled = try broker.frameClient(receiveBuffer: 4096)
            let members = try (0..<2).map { _ in try broker.frameClient() }
            for member in [stalled] + members { #expect(try member.request("SUB \(topic) group=g").subscribeReply != nil) }
            let tally = PthreadLock(Tally(published: published))
            var readers = members.enumerated().map { Self.memberReader($0.element, $0.offset, topic: topic, tally: tally) }
            // Big payloads: what the stalled member's socket buffers hold is a small part of the whole.
            let publisher = try v2Publisher(port: broker.port)
            let result = try publishV2(publisher, topic: topic, 1...published, receivers: 1, burst: 500) { "\($0) \(padding)" }
            #expect(result.failures.isEmpty, "\(result.failures)")
            // Now the stalled member reads too.
            readers.append(Self.memberReader(stalled, 2, topic: topic, tally: tally))
            Self.waitFor("every message delivered or counted") { tally.withLock { $0.delivered + $0.lagged } >= published }
            for member in members + [stalled] { try member.send("PING end") }
            let readings = try readers.map { try $0.join() }
            let final = tally.withLock { $0 }
            Self.checkGroup(readings, tally: final, published: published)
            #expect(final.delivered + final.lagged == published, "\(final.delivered) delivered + \(final.lagged) lagged")
            // A fair share would be a third; the stalled member's socket buffers (tcp_wmem at most 4 MiB
            // here, about 8,000 of these messages) hold less than a quarter.
            #expect(readings[2].seqs.count < published / 4,
                    "the stalled member took \(readings[2].seqs.count) of \(published); the others \(readings[0].seqs.count), \(readings[1].seqs.count)")
        }
    }

    @Test func aGroupWhoseMembersAllStallCountsEveryMessageOnceInDeliveriesOrLagged() throws {
        let topic = "slowgroup"
        let published = 30_000
        let padding = String(repeating: "s", count: 1000)
        try withBroker({ $0.capacity = 64 }) { broker in
            let members = try (0..<2).map { _ in try broker.frameClient(receiveBuffer: 4096) }
            for member in members { #expect(try member.request("SUB \(topic) group=g").subscribeReply != nil) }
            let publisher = try v2Publisher(port: broker.port)
            #expect(try publishV2(publisher, topic: topic, 1...published, receivers: 1) { "\($0) \(padding)" }.failures.isEmpty)
            // Both read only now.
            let tally = PthreadLock(Tally(published: published))
            let readers = members.enumerated().map { Self.memberReader($0.element, $0.offset, topic: topic, tally: tally) }
            Self.waitFor("every message delivered or counted") { tally.withLock { $0.delivered + $0.lagged } >= published }
            for member in members { try member.send("PING end") }
            let readings = try readers.map { try $0.join() }
            let final = tally.withLock { $0 }
            Self.checkGroup(readings, tally: final, published: published)
            #expect(final.delivered + final.lagged == published,
                    "\(final.delivered) delivered + \(final.lagged) lagged (members: \(readings.map { "\($0.seqs.count) MSG, \($0.lagged) lagged" }))")
            #expect(final.lagged > 0, "the members were not stalled")
            // A LAGGED counts messages no member will receive: none of them is delivered.
            #expect(final.seen.dropFirst().filter { $0 == 0 }.count == final.lagged, "missing messages differ from the LAGGED counts")
        }
    }

    @Test func aVersionOneMemberCountsThePayloadsItCannotTakeAndNoMemberGetsThem() throws {
        // A member that went back to version 1 cannot receive a payload with an LF: handed to it, such a
        // message is counted in its LAGGED, and no member receives it. Nothing is lost silently or twice.
        let topic = "mixed"
        let published = 6000
        try withBroker { broker in
            let modern = try broker.frameClient()
            let old = try broker.frameClient()
            for member in [modern, old] { #expect(try member.request("SUB \(topic) group=g").subscribeReply != nil) }
            try old.hello(1)
            let tally = PthreadLock(Tally(published: published))
            let readers = [Self.mixedReader(modern, topic: topic, tally: tally), Self.mixedReader(old, topic: topic, tally: tally)]
            let publisher = try broker.frameClient(version: 1)
            var sent = 1
            var badReplies = 0
            while sent <= published {
                var bytes: [UInt8] = []
                for i in sent..<(sent + 200) {
                    let payload = digits(i) + (i % 2 == 0 ? Array(" line".utf8) : Array(" two\nlines".utf8))
                    bytes += Array("BPUB \(topic) \(payload.count)\n".utf8) + payload + [0x0A]
                }
                try publisher.sendBytes(bytes)
                for _ in 0..<200 where try publisher.frame() != .ok("1") { badReplies += 1 }
                sent += 200
            }
            #expect(badReplies == 0, "a group counts as one subscription")
            Self.waitFor("every message delivered or counted") { tally.withLock { $0.delivered + $0.lagged } >= published }
            for member in [modern, old] { try member.send("PING end") }
            let readings = try readers.map { try $0.join() }
            let final = tally.withLock { $0 }
            Self.checkGroup(readings, tally: final, published: published)
            #expect(final.delivered + final.lagged == published, "\(final.delivered) delivered + \(final.lagged) lagged")
        }
    }

    /// A group member's reader for payloads `<i> ...` on a connection of either version: a version 1
    /// MSG has no sequence, its payload's number stands for it.
    private static func mixedReader(_ member: FrameClient, topic: String, tally: PthreadLock<Tally>) -> Worker<Reading> {
        Worker {
            var reading = Reading()
            var last: UInt64 = 0
            while true {
                let frame = try member.frame()
                switch frame {
                case let .msg(t, seq, payload) where t == topic:
                    let number = UInt64(String(decoding: payload.prefix { $0 != 0x20 }, as: UTF8.self)) ?? 0
                    if let seq, seq != number { reading.failures.append("\(frame)") }
                    if number <= last { reading.failures.append("MSG \(number) after \(last)") }
                    if seq == nil && payload.contains(0x0A) { reading.failures.append("a version 1 MSG with an LF") }
                    last = number
                    reading.seqs.append(number)
                    tally.withLock {
                        if Int(number) < $0.seen.count { $0.seen[Int(number)] &+= 1 }
                        $0.delivered += 1
                    }
                case let .lagged(t, count) where t == topic:
                    reading.lagged += count
                    tally.withLock { $0.lagged += Int(count) }
                case .pong("end"):
                    return reading
                default:
                    reading.failures.append("unexpected \(frame)")
                }
                if reading.failures.count > 5 { return reading }
            }
        }
    }

    @Test func membersJoiningAndLeavingUnderLoadNeverGetAMessageTwice() throws {
        let topic = "churn"
        let bursts = 60
        let burst = 1000
        let published = bursts * burst
        try withBroker { broker in
            let tally = PthreadLock(Tally(published: published))
            var members: [FrameClient] = []
            var readers: [Worker<Reading>] = []
            var killed: Set<Int> = []
            func join() throws {
                let client = try broker.frameClient()
                #expect(try client.request("SUB \(topic) group=g").subscribeReply != nil)
                readers.append(Self.memberReader(client, members.count, topic: topic, tally: tally))
                members.append(client)
            }
            try join()
            try join()
            let watcher = try broker.frameClient()
            let publisher = try v2Publisher(port: broker.port)
            var boundary = 0  // messages up to here may be lost with a member that left
            // round: (action, member index)
            let plan: [Int: (String, Int)] = [5: ("join", 2), 10: ("unsub", 1), 15: ("join", 3), 20: ("kill", 2),
                                              30: ("join", 4), 35: ("unsub", 0), 40: ("join", 5), 45: ("kill", 3)]
            for round in 0..<bursts {
                let first = round * burst + 1
                // Publishing goes on while the members read; the leaves happen between bursts.
                #expect(try publishV2(publisher, topic: topic, first...(first + burst - 1), receivers: 1, burst: 250).failures.isEmpty)
                guard let (action, index) = plan[round] else { continue }
                switch action {
                case "join":
                    try join()
                case "unsub":
                    // The member's reader sees the reply and checks that nothing of the group follows it.
                    try members[index].send("UNSUB \(topic) group=g")
                    Self.waitFor("member \(index)'s UNSUB reply") { tally.withLock { $0.leftMembers.contains(index) } }
                    boundary = first + burst - 1
                default:
                    // Killed: wait until the broker saw it go (one subscriber fewer on the topic).
                    let before = try topicStats(watcher, topic)?["subscribers"]
                    members[index].kill()
                    killed.insert(index)
                    let gone = try poll(watcher) { try topicStats(watcher, topic)?["subscribers"] != before }
                    #expect(gone != nil, "the broker never saw member \(index) go")
                    boundary = first + burst - 1
                }
            }
            // Every message published after the last leave is delivered or counted.
            Self.waitFor("the messages after the last leave") { tally.withLock { $0.accounted(above: boundary) } >= published - boundary }
            for index in members.indices where !killed.contains(index) { try members[index].send("PING end") }
            let readings = try readers.map { try $0.join() }
            let final = tally.withLock { $0 }
            Self.checkGroup(readings, tally: final, published: published)
            #expect(final.delivered + final.lagged <= published)
            #expect(final.accounted(above: boundary) >= published - boundary,
                    "after the last leave (seq > \(boundary)): \(final.accounted(above: boundary)) accounted of \(published - boundary)")
            #expect(readings[1].seqs.allSatisfy { $0 <= 11 * UInt64(burst) } && readings[0].seqs.allSatisfy { $0 <= 36 * UInt64(burst) },
                    "a member got messages published after its UNSUB reply")
        }
    }
}
