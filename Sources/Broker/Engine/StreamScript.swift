// How the cluster engine keeps a topic's stream in Redis: its keys, the one script that publishes, and the forms it reads back.
import Protocol
import RESP

/// Where one topic's stream lives in Redis. The three names share the topic as a hash
/// tag (`{topic}`), so a Redis Cluster keeps them on one shard and the script may use them
/// together.
///
/// - `meta`: a hash with the stream's `epoch` (its token) and `seq` (the last sequence given);
/// - `stream`: a Redis stream holding the newest messages, entry id `<seq>-0`, field `p`;
/// - `channel`: the Pub/Sub channel on which each message goes to the nodes.
struct RedisTopicKeys: Equatable, Sendable {
    let meta: [UInt8]
    let stream: [UInt8]
    let channel: [UInt8]

    init(prefix: [UInt8], topic: some Collection<UInt8>) {
        let base = prefix + [UInt8(ascii: "{")] + Array(topic) + [UInt8(ascii: "}")]
        meta = base + Array(":m".utf8)
        stream = base + Array(":s".utf8)
        channel = base + Array(":c".utf8)
    }
}

/// The publish script and what it answers.
///
/// One `EVALSHA` per message, atomic in Redis:
/// 1. gives the stream an epoch if it has none (the node's candidate; a Redis that lost
///    the topic's keys thus starts a new stream, visibly), dropping a stream left without
///    its meta hash;
/// 2. takes the next sequence (`HINCRBY`);
/// 3. appends the message to the stream, trimmed to the topic's capacity (`XADD ... MAXLEN`);
/// 4. sends `<epoch> <seq> <payload>` on the topic's channel (`PUBLISH`), whose reply is the
///    number of Redis clients that received it: the nodes subscribed to the topic.
///
/// The reply is `[epoch, seq, nodes]`.
enum StreamScript {
    /// The script's source. KEYS: meta, stream. ARGV: payload, capacity, candidate epoch, channel.
    static let source = """
        if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[3]) == 1 then redis.call('DEL', KEYS[2]) end
        local epoch = redis.call('HGET', KEYS[1], 'epoch')
        local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
        redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], seq .. '-0', 'p', ARGV[1])
        local nodes = redis.call('PUBLISH', ARGV[4], epoch .. ' ' .. seq .. ' ' .. ARGV[1])
        return {epoch, seq, nodes}
        """

    /// The script's SHA-1 as Redis names it (lowercase hex), for `EVALSHA`.
    static let sha1Hex: String = SHA1.hex(of: Array(source.utf8))

    /// `EVALSHA` (or, with `loading`, `EVAL` with the source: for a Redis that does not have
    /// the script cached yet, answered `NOSCRIPT`) publishing `payload` to the topic at `keys`.
    static func publish(_ payload: some Collection<UInt8>, keys: RedisTopicKeys, capacity: Int, candidateEpoch: [UInt8],
                        loading: Bool = false) -> [[UInt8]] {
        let head: [[UInt8]] = loading ? [Array("EVAL".utf8), Array(source.utf8)] : [Array("EVALSHA".utf8), Array(sha1Hex.utf8)]
        return head + [Array("2".utf8), keys.meta, keys.stream, Array(payload), Array(String(capacity).utf8), candidateEpoch, keys.channel]
    }

    /// Whether `reply` says the script is not cached (then send it again with `loading`).
    static func isNoScript(_ reply: RESPValue) -> Bool {
        reply.errorText?.hasPrefix("NOSCRIPT") == true
    }

    /// What one publish did in Redis.
    struct Published: Equatable, Sendable {
        var epoch: [UInt8]
        var seq: UInt64
        /// Redis clients (nodes) that the channel's message reached.
        var nodes: Int
    }

    /// The script's reply, or nil when it is not `[epoch, seq, nodes]` (an error reply included).
    static func published(from reply: RESPValue) -> Published? {
        guard let items = reply.elements, items.count == 3, let epoch = items[0].bytes, !epoch.isEmpty,
              case let .integer(seq) = items[1], seq > 0, case let .integer(nodes) = items[2], nodes >= 0 else { return nil }
        return Published(epoch: epoch, seq: UInt64(seq), nodes: Int(nodes))
    }
}

/// The script that reads a topic's stream as a node begins to follow it, or catches up
/// after it lost its connection to Redis: atomically, the stream's epoch (given one, as by a
/// publish, when it has none: a `SUB` makes the stream), its head, and its entries after a
/// sequence. Sent with `EVAL` (it runs once per topic a node begins to follow, not per message).
enum StreamReadScript {
    /// KEYS: meta, stream. ARGV: candidate epoch, the first id (`-` or `(<seq>-0`), count.
    static let source = """
        if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1]) == 1 then redis.call('DEL', KEYS[2]) end
        local meta = redis.call('HMGET', KEYS[1], 'epoch', 'seq')
        return {meta[1], tonumber(meta[2]) or 0, redis.call('XRANGE', KEYS[2], ARGV[2], '+', 'COUNT', ARGV[3])}
        """

    /// The command reading the stream at `keys` after sequence `after` (0: from its start).
    static func read(_ keys: RedisTopicKeys, after: UInt64, count: Int, candidateEpoch: [UInt8]) -> [[UInt8]] {
        [Array("EVAL".utf8), Array(source.utf8), Array("2".utf8), keys.meta, keys.stream, candidateEpoch,
         after == 0 ? Array("-".utf8) : Array("(\(after)-0".utf8), Array(String(count).utf8)]
    }

    /// What the read found.
    struct State: Equatable, Sendable {
        var epoch: [UInt8]
        var head: UInt64
        var entries: [StreamEntry]

        static func == (a: State, b: State) -> Bool {
            a.epoch == b.epoch && a.head == b.head && a.entries.elementsEqual(b.entries) { $0.seq == $1.seq && $0.payload == $1.payload }
        }
    }

    /// The reply as a ``State``, or nil when it is not `[epoch, head, entries]`.
    static func state(from reply: RESPValue) -> State? {
        guard let items = reply.elements, items.count == 3, let epoch = items[0].bytes, !epoch.isEmpty,
              case let .integer(head) = items[1], head >= 0, let entries = StreamEntries.parse(items[2]) else { return nil }
        return State(epoch: epoch, head: UInt64(head), entries: entries)
    }
}

/// One entry of a topic's stream: its sequence and payload.
typealias StreamEntry = (seq: UInt64, payload: [UInt8])

/// A message as it comes to a node on a topic's channel: `<epoch> <seq> <payload>`.
struct ChannelMessage: Equatable, Sendable {
    var epoch: [UInt8]
    var seq: UInt64
    var payload: [UInt8]

    /// The three parts, or nil when `bytes` is not of that form (an empty epoch, a
    /// sequence that is not 1 to 20 digits below 2^64, or 0).
    static func parse(_ bytes: [UInt8]) -> ChannelMessage? {
        let space = UInt8(ascii: " ")
        guard let first = bytes.firstIndex(of: space), first > 0,
              let second = bytes[(first + 1)...].firstIndex(of: space),
              let seq = decimal(bytes[(first + 1)..<second]), seq > 0 else { return nil }
        return ChannelMessage(epoch: Array(bytes[..<first]), seq: seq, payload: Array(bytes[(second + 1)...]))
    }

    /// The bytes `PUBLISH` carries for this message (what the script writes).
    var bytes: [UInt8] { epoch + [UInt8(ascii: " ")] + Array(String(seq).utf8) + [UInt8(ascii: " ")] + payload }
}

/// Entries read back from a topic's stream (`XRANGE`), for a node that missed some.
enum StreamEntries {
    /// `XRANGE <stream> (<after>-0 + COUNT <count>`: the entries after sequence `after`.
    static func read(_ keys: RedisTopicKeys, after: UInt64, count: Int) -> [[UInt8]] {
        [Array("XRANGE".utf8), keys.stream, Array("(\(after)-0".utf8), Array("+".utf8), Array("COUNT".utf8), Array(String(count).utf8)]
    }

    /// The `(seq, payload)` of each entry, in order; nil when the reply is not a list of
    /// `[<seq>-0, [p, <payload>]]` entries.
    static func parse(_ reply: RESPValue) -> [(seq: UInt64, payload: [UInt8])]? {
        guard let items = reply.elements else { return nil }
        var entries: [(seq: UInt64, payload: [UInt8])] = []
        entries.reserveCapacity(items.count)
        for item in items {
            guard let pair = item.elements, pair.count == 2, let id = pair[0].bytes,
                  let dash = id.firstIndex(of: UInt8(ascii: "-")), id[(dash + 1)...].elementsEqual("0".utf8),
                  let seq = decimal(id[..<dash]), seq > 0,
                  let fields = pair[1].elements, fields.count == 2, fields[0].bytes == Array("p".utf8),
                  let payload = fields[1].bytes else { return nil }
            entries.append((seq, payload))
        }
        return entries
    }
}

/// A strict decimal (the wire's: 1 to 20 ASCII digits, below 2^64), or nil.
private func decimal(_ digits: ArraySlice<UInt8>) -> UInt64? {
    digits.withUnsafeBytes { ServerFrameParser.parseDecimal($0) }
}
