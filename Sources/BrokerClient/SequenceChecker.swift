// The version 2 sequence rule, frame by frame: increasing sequences, each gap exactly the LAGGED counts before it.
import Protocol

/// What ``SequenceChecker`` concluded about one `MSG`.
public enum SequenceVerdict: Hashable, Sendable {
    /// In order: the message follows the one before it, or the gap between them is
    /// what `LAGGED` frames reported; also the first message where the rule starts,
    /// and every message of a queue group member (exempt from the gap rule).
    case accounted
    /// `missing` messages before this one were reported by no `LAGGED` frame. The
    /// connection hands them out as lag, so they are never lost silently.
    case unreported(missing: UInt64)
    /// A pattern subscription's topic began a new stream (its old one was freed): the
    /// rule starts again with this message.
    case newStream
}

/// A frame that breaks the sequence rule in a way lag cannot explain: a broker bug.
public struct SequenceViolation: Error, Hashable, Sendable, CustomStringConvertible {
    /// The topic of the frame.
    public var topic: String
    /// What is wrong.
    public var reason: String

    public init(topic: String, reason: String) {
        self.topic = topic
        self.reason = reason
    }

    public var description: String { "\(reason) on \(topic)" }
}

/// Checks the frames of one version 2 connection against PROTOCOL.md's sequence rule
/// ("Frames that change in version 2"), in the order they arrive.
///
/// Per subscription and topic, `MSG` sequences increase, and the gap between two of
/// them equals the sum of the `LAGGED` counts for that topic between them. For a
/// concrete topic the sequence before the first `MSG` is the SUB reply's head (or the
/// honored `from=`); for `last=` and for each topic of a pattern the rule starts at the
/// first `MSG`. For a pattern, a sequence not above the last starts a new stream.
/// Queue group members are exempt from the gap rule (other members take messages).
///
/// Guarantees:
/// - Every message that is neither received nor reported by a `LAGGED` frame comes
///   out as ``SequenceVerdict/unreported(missing:)``: a gap is never silent.
/// - With one subscription per topic (the usual case), the check is exact: a
///   sequence that goes back on a concrete topic, or `LAGGED` counts that exceed the
///   gap, throw ``SequenceViolation``.
/// - Frames do not say which subscription they are for. When several subscriptions
///   of the connection match one topic (`a.b` and `a.*`), each `MSG` is given to the
///   subscription whose last sequence is closest below it, and `LAGGED` counts are
///   shared by the topic's subscriptions: the count of unreported messages is then
///   exact for the topic as a whole, and no violation is raised for it.
///
/// The caller tells the checker about subscriptions when their replies are read
/// (``subscribed(id:pattern:isGroup:start:epoch:)``, ``unsubscribed(id:)``), in wire
/// order with the frames. A topic's state lasts while a subscription matches it.
///
/// Owned by one thread (the connection's); not `Sendable`.
///
/// ```swift
/// let checker = SequenceChecker()
/// checker.subscribed(id: 1, pattern: "t", isGroup: false, start: 10, epoch: "k3")
/// try checker.message(topic: "t", seq: 11)        // .accounted
/// try checker.lagged(topic: "t", count: 2)
/// try checker.message(topic: "t", seq: 14)        // .accounted (12 and 13 reported)
/// try checker.message(topic: "t", seq: 16)        // .unreported(missing: 1)
/// ```
public final class SequenceChecker {
    /// A subscription as the checker knows it.
    struct Subscriber {
        /// The topic or pattern, as bytes for matching.
        let pattern: [UInt8]
        /// True when `pattern` has a wildcard level.
        let isPattern: Bool
        /// True for a queue group member.
        let isGroup: Bool
        /// For a concrete topic: the sequence before its first `MSG` (nil: the rule starts at the first).
        let start: UInt64?
    }

    /// One subscription's progress on one topic.
    struct Lane {
        /// The subscription's id.
        let id: Int
        let isPattern: Bool
        let isGroup: Bool
        /// The sequence of the last `MSG` (or the start); nil until the rule starts.
        var last: UInt64?
    }

    /// One topic: its subscriptions' lanes and the `LAGGED` counts no gap has taken yet.
    final class Track {
        /// Every subscription of the connection that matches the topic. While
        /// ``next`` is set, the one lane's `last` is `next - 1` (kept there, not in the lane).
        var lanes: [Lane] {
            get {
                // The fast path advanced `next` alone: bring the lane up to date in place
                // (no copy of the array per read).
                if let next { storedLanes[0].last = next &- 1 }
                return storedLanes
            }
            set {
                storedLanes = newValue
                next = fastNext
            }
        }
        @exclusivity(unchecked)
        private var storedLanes: [Lane]
        /// The sequence the next `MSG` has when it follows the last at once, for a topic
        /// whose only lane is a concrete subscription outside any group that has a last:
        /// the per-frame check is then one comparison. Nil otherwise.
        @exclusivity(unchecked)
        var next: UInt64?
        /// `LAGGED` counts read since the gaps that took earlier ones.
        @exclusivity(unchecked)
        var unmatchedLag: UInt64 = 0
        /// The stream's epoch when a SUB reply told it (a concrete subscription).
        @exclusivity(unchecked)
        var epoch: String?

        init(lanes: [Lane], epoch: String?) {
            self.storedLanes = lanes
            self.epoch = epoch
            self.next = fastNext
        }

        /// What ``next`` is for the lanes as they are.
        var fastNext: UInt64? {
            guard storedLanes.count == 1, !storedLanes[0].isPattern, !storedLanes[0].isGroup,
                  let last = storedLanes[0].last, last < UInt64.max else { return nil }
            return last + 1
        }
    }

    /// The active subscriptions, by id.
    private var subscribers: [Int: Subscriber] = [:]
    /// The topics seen or subscribed to, by name.
    private var tracks: [String: Track] = [:]
    /// The track used last (most frames come on the same topic as the one before).
    /// Checked per message; one thread, no overlapping access: no run-time exclusivity check.
    @exclusivity(unchecked)
    private var recentTopic = ""
    @exclusivity(unchecked)
    private var recentTrack: Track?

    public init() {}

    /// A subscription became active (its SUB reply was read).
    ///
    /// - `start`: for a concrete topic, the sequence before its first `MSG`: the reply's
    ///   head, or the honored `from=` sequence; nil for `last=` and patterns.
    /// - `epoch`: the stream's epoch from the reply, when it has one.
    public func subscribed(id: Int, pattern: String, isGroup: Bool, start: UInt64?, epoch: String?) {
        let bytes = Array(pattern.utf8)
        let isPattern = bytes.withUnsafeBytes { Names.hasWildcard($0) }
        subscribers[id] = Subscriber(pattern: bytes, isPattern: isPattern, isGroup: isGroup, start: isPattern ? nil : start)
        if isPattern {
            for (topic, track) in tracks where SequenceChecker.matches(bytes, topic) {
                track.lanes.append(Lane(id: id, isPattern: true, isGroup: isGroup, last: nil))
            }
            return
        }
        if let track = tracks[pattern] {
            track.lanes.append(Lane(id: id, isPattern: false, isGroup: isGroup, last: start))
            if let epoch { track.epoch = epoch }
        } else {
            tracks[pattern] = makeTrack(pattern, epoch: epoch)
        }
    }

    /// A subscription ended (its UNSUB reply was read): no frame is for it any more.
    public func unsubscribed(id: Int) {
        guard subscribers.removeValue(forKey: id) != nil else { return }
        recentTrack = nil
        for (topic, track) in tracks {
            track.lanes.removeAll { $0.id == id }
            if track.lanes.isEmpty {
                tracks[topic] = nil
            } else if !track.lanes.contains(where: { !$0.isPattern }) {
                track.epoch = nil  // no concrete subscription keeps the stream any more
            }
        }
    }

    /// A `LAGGED <topic> <count>` frame.
    public func lagged(topic: String, count: UInt64) throws(SequenceViolation) {
        let track = try self.track(topic)
        track.unmatchedLag = track.unmatchedLag.addingReportingOverflow(count).partialValue
    }

    /// A `MSG <topic> <seq> ...` frame: is it in order, and does any gap before it lack a `LAGGED`?
    @discardableResult
    public func message(topic: String, seq: UInt64) throws(SequenceViolation) -> SequenceVerdict {
        try check(topic: topic, seq: seq).verdict
    }

    /// The epoch a ``check(topic:seq:)`` track knows (for a frame lent during one call).
    static func epoch(of track: Track) -> String? { track.epoch }

    /// The stream epoch known for `topic` (from a SUB reply of a concrete subscription), if any.
    public func epoch(of topic: String) -> String? {
        tracks[topic]?.epoch
    }

    /// The last sequence of subscription `id` on `topic` (its start before the first `MSG`), if known.
    public func lastSequence(of id: Int, on topic: String) -> UInt64? {
        tracks[topic]?.lanes.first { $0.id == id }?.last
    }

    // MARK: Internals

    /// ``message(topic:seq:)``, also giving the topic's track (where its known epoch is:
    /// one lookup for both, and no copy of the epoch per frame).
    @inline(__always)
    func check(topic: String, seq: UInt64) throws(SequenceViolation) -> (verdict: SequenceVerdict, track: Track) {
        let track = try self.track(topic)
        if let next = track.next, seq == next, track.unmatchedLag == 0 {
            // The usual frame: the one right after the last, on a topic with one
            // concrete subscription outside any group, no LAGGED pending. Same verdict as `single`.
            track.next = next &+ 1
            return (.accounted, track)
        }
        let verdict: SequenceVerdict
        if track.lanes.count == 1 {
            verdict = try SequenceChecker.single(track, topic: topic, seq: seq)
        } else {
            verdict = try SequenceChecker.shared(track, topic: topic, seq: seq)
        }
        if verdict == .newStream, !track.lanes.contains(where: { !$0.isPattern }) { track.epoch = nil }
        return (verdict, track)
    }

    /// The rule for a topic with one subscription: exact.
    private static func single(_ track: Track, topic: String, seq: UInt64) throws(SequenceViolation) -> SequenceVerdict {
        let lane = track.lanes[0]
        let lag = track.unmatchedLag
        track.unmatchedLag = 0
        guard let last = lane.last else {
            // The rule starts here; a LAGGED before it cannot be checked (it was handed out as lag).
            track.lanes[0].last = seq
            return .accounted
        }
        track.lanes[0].last = seq
        if seq <= last {
            if lane.isPattern { return .newStream }
            track.lanes[0].last = last
            throw SequenceViolation(topic: topic, reason: "sequence \(seq) after \(last)")
        }
        if lane.isGroup { return .accounted }
        let gap = seq - last - 1
        if lag == gap { return .accounted }
        if lag < gap { return .unreported(missing: gap - lag) }
        // More reported than missing: for a pattern only a new stream explains it.
        if lane.isPattern { return .newStream }
        throw SequenceViolation(topic: topic, reason: "LAGGED counted \(lag) messages but \(gap) are missing before \(seq)")
    }

    /// The rule for a topic several subscriptions match: each MSG to the lane closest
    /// below it, LAGGED counts shared; exact for the topic as a whole.
    private static func shared(_ track: Track, topic: String, seq: UInt64) throws(SequenceViolation) -> SequenceVerdict {
        var chosen: Int?
        var fresh: Int?
        var restartable: Int?
        for (index, lane) in track.lanes.enumerated() {
            guard let last = lane.last else {
                if fresh == nil { fresh = index }
                continue
            }
            if last < seq {
                if chosen.map({ track.lanes[$0].last ?? 0 < last }) ?? true { chosen = index }
            } else if lane.isPattern, restartable == nil {
                restartable = index
            }
        }
        if let index = chosen {
            let lane = track.lanes[index]
            let gap = seq - (lane.last ?? 0) - 1
            track.lanes[index].last = seq
            let taken = min(gap, track.unmatchedLag)
            track.unmatchedLag -= taken
            if lane.isGroup || taken == gap { return .accounted }
            return .unreported(missing: gap - taken)
        }
        if let index = fresh {
            track.lanes[index].last = seq
            return .accounted
        }
        if let index = restartable {
            track.lanes[index].last = seq
            return .newStream
        }
        throw SequenceViolation(topic: topic, reason: "sequence \(seq) is not above any subscription's last")
    }

    /// The track of `topic`, made on first use; a topic no subscription matches is a violation.
    @inline(__always)
    private func track(_ topic: String) throws(SequenceViolation) -> Track {
        if let recentTrack, topic == recentTopic { return recentTrack }
        let track: Track
        if let known = tracks[topic] {
            track = known
        } else {
            track = makeTrack(topic, epoch: nil)
            guard !track.lanes.isEmpty else {
                throw SequenceViolation(topic: topic, reason: "a frame no subscription asked for")
            }
            tracks[topic] = track
        }
        recentTopic = topic
        recentTrack = track
        return track
    }

    /// A track with a lane for every subscription that matches `topic`, in subscription order.
    private func makeTrack(_ topic: String, epoch: String?) -> Track {
        let bytes = Array(topic.utf8)
        var lanes: [Lane] = []
        for (id, subscriber) in subscribers.sorted(by: { $0.key < $1.key }) {
            let matches = subscriber.isPattern ? SequenceChecker.matches(subscriber.pattern, bytes) : subscriber.pattern == bytes
            if matches {
                lanes.append(Lane(id: id, isPattern: subscriber.isPattern, isGroup: subscriber.isGroup, last: subscriber.start))
            }
        }
        return Track(lanes: lanes, epoch: epoch)
    }

    private static func matches(_ pattern: [UInt8], _ topic: some StringProtocol) -> Bool {
        matches(pattern, Array(topic.utf8))
    }

    private static func matches(_ pattern: [UInt8], _ topic: [UInt8]) -> Bool {
        pattern.withUnsafeBytes { p in topic.withUnsafeBytes { t in Names.matches(pattern: p, topic: t) } }
    }
}
