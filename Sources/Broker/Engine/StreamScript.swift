// How the cluster engine keeps a topic's stream in Redis: its keys, the one script that publishes, and the forms it reads back.
import Protocol
import RESP

/// Where one topic's stream lives in Redis. The four names share the topic as a hash
/// tag (`{topic}`), so a Redis Cluster keeps them on one shard and the script may use them
/// together.
///
/// - `meta`: a hash with the stream's `epoch` (its token) and `seq` (the last sequence given);
/// - `stream`: a Redis stream holding the newest messages, one entry per published batch,
///   id `<last seq>-0`, fields `p` (the batch) and `a` (its queue groups' nodes);
/// - `channel`: the Pub/Sub channel on which each batch goes to the nodes;
/// - `groups`: the queue groups with members on some node.
struct RedisTopicKeys: Equatable, Sendable {
    let meta: [UInt8]
    let stream: [UInt8]
    let channel: [UInt8]
    /// A hash of the queue groups with members on some node: field `<group> <node>`, value
    /// the registration's end (Redis time, ms); a node renews its registrations while it has members.
    let groups: [UInt8]
    /// The prefix and the topic these names are made of.
    let prefix: [UInt8]
    let topic: [UInt8]

    /// The hash of queue groups of patterns (one for all topics): field `<pattern> <group> <node>`,
    /// value the registration's end. (Not a per-topic key: the script reads it with the topic's,
    /// so pattern queue groups need one Redis, not a Redis Cluster.)
    static func patternGroups(prefix: [UInt8]) -> [UInt8] { prefix + Array("patterngroups".utf8) }

    init(prefix: [UInt8], topic: some Collection<UInt8>) {
        self.prefix = prefix
        self.topic = Array(topic)
        let base = prefix + [UInt8(ascii: "{")] + Array(topic) + [UInt8(ascii: "}")]
        meta = base + Array(":m".utf8)
        stream = base + Array(":s".utf8)
        channel = base + Array(":c".utf8)
        groups = base + Array(":q".utf8)
    }
}

/// The publish script and what it answers.
///
/// One `EVALSHA` per batch of messages to one topic (a node gathers the publishes of one
/// loop turn, ``PayloadBatch``), atomic in Redis:
/// 1. gives the stream an epoch if it has none (the node's candidate; a Redis that lost
///    the topic's keys thus starts a new stream, visibly), dropping a stream left without
///    its meta hash;
/// 2. takes the batch's sequences (`HINCRBY ... seq <count>`): first to last;
/// 3. picks, for each queue group with members on some node (the topic's groups hash, and
///    the groups of patterns that match the topic in the pattern groups hash, named
///    `<group>@<first 16 hex digits of the pattern's SHA-1>`), the node that delivers the
///    batch to that group: the live registrations in turn, by the first sequence;
/// 4. appends the batch to the stream as one entry with id `<last>-0` (fields `p`: the batch,
///    `a`: the groups' nodes), dropping the entries whose messages are all older than the
///    newest `capacity` (`XADD ... MINID`);
/// 5. sends `<epoch> <first> <assign> <batch>` on the topic's channel (`PUBLISH`), whose reply
///    is the number of Redis subscriptions that received it: the nodes following the topic;
/// 6. sets how long the stream lives: `linger_ms` when no node follows the topic (with 0 it is
///    deleted at once, as a local broker frees it), else `linger_ms` + 15 s, which the
///    following nodes renew every 5 s (``RedisTopicStore/followerTTLSlackMs``).
///
/// The reply is `[epoch, first, nodes]`.
enum StreamScript {
    /// The script's source. KEYS: meta, stream, groups, pattern groups. ARGV: batch, count,
    /// capacity, candidate epoch, channel, linger (ms), topic.
    static let source = """
        if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[4]) == 1 then redis.call('DEL', KEYS[2]) end
        local epoch = redis.call('HGET', KEYS[1], 'epoch')
        local n = tonumber(ARGV[2])
        local last = redis.call('HINCRBY', KEYS[1], 'seq', n)
        local first = last - n + 1
        local assign = '-'
        local members = redis.call('HGETALL', KEYS[3])
        local patterned = redis.call('HGETALL', KEYS[4])
        if #members > 0 or #patterned > 0 then
          local t = redis.call('TIME')
          local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
          local groups, names = {}, {}
          local function add(group, node)
            if not groups[group] then groups[group] = {}; table.insert(names, group) end
            table.insert(groups[group], node)
          end
          for i = 1, #members, 2 do
            if tonumber(members[i + 1]) < now then
              redis.call('HDEL', KEYS[3], members[i])
            else
              local space = string.find(members[i], ' ', 1, true)
              add(string.sub(members[i], 1, space - 1), string.sub(members[i], space + 1))
            end
          end
          if #patterned > 0 then
            local topic = {}
            for level in string.gmatch(ARGV[7], '[^.]+') do table.insert(topic, level) end
            local function matches(pattern)
              local i = 0
              for level in string.gmatch(pattern, '[^.]+') do
                i = i + 1
                if level == '>' then return #topic >= i end
                if i > #topic or (level ~= '*' and level ~= topic[i]) then return false end
              end
              return i == #topic
            end
            for i = 1, #patterned, 2 do
              if tonumber(patterned[i + 1]) < now then
                redis.call('HDEL', KEYS[4], patterned[i])
              else
                local first = string.find(patterned[i], ' ', 1, true)
                local second = string.find(patterned[i], ' ', first + 1, true)
                local pattern = string.sub(patterned[i], 1, first - 1)
                if matches(pattern) then
                  local group = string.sub(patterned[i], first + 1, second - 1) .. '@' .. string.sub(redis.sha1hex(pattern), 1, 16)
                  add(group, string.sub(patterned[i], second + 1))
                end
              end
            end
          end
          if #names > 0 then
            table.sort(names)
            local parts = {}
            for _, group in ipairs(names) do
              local nodes = groups[group]
              table.sort(nodes)
              table.insert(parts, group .. '=' .. nodes[(first % #nodes) + 1])
            end
            assign = table.concat(parts, ',')
          end
        end
        local floor = last - tonumber(ARGV[3]) + 1
        if floor < 1 then floor = 1 end
        redis.call('XADD', KEYS[2], 'MINID', floor .. '-0', last .. '-0', 'p', ARGV[1], 'a', assign)
        local nodes = redis.call('PUBLISH', ARGV[5], epoch .. ' ' .. first .. ' ' .. assign .. ' ' .. ARGV[1])
        local linger = tonumber(ARGV[6])
        if nodes > 0 then
          redis.call('PEXPIRE', KEYS[1], linger + 15000)
          redis.call('PEXPIRE', KEYS[2], linger + 15000)
        elseif linger == 0 then
          redis.call('DEL', KEYS[1], KEYS[2])
        else
          redis.call('PEXPIRE', KEYS[1], linger)
          redis.call('PEXPIRE', KEYS[2], linger)
        end
        return {epoch, first, nodes}
        """

    /// The script's SHA-1 as Redis names it (lowercase hex), for `EVALSHA`.
    static let sha1Hex: String = SHA1.hex(of: Array(source.utf8))

    /// `EVALSHA` (or, with `loading`, `EVAL` with the source: for a Redis that does not have
    /// the script cached yet, answered `NOSCRIPT`) publishing `batch` to the topic at `keys`.
    static func publish(_ batch: PayloadBatch, keys: RedisTopicKeys, capacity: Int, candidateEpoch: [UInt8], lingerMs: Int = 60_000,
                        loading: Bool = false) -> [[UInt8]] {
        let head: [[UInt8]] = loading ? [Array("EVAL".utf8), Array(source.utf8)] : [Array("EVALSHA".utf8), Array(sha1Hex.utf8)]
        return head + [Array("4".utf8), keys.meta, keys.stream, keys.groups, RedisTopicKeys.patternGroups(prefix: keys.prefix),
                       batch.bytes, Array(String(batch.count).utf8), Array(String(capacity).utf8), candidateEpoch, keys.channel,
                       Array(String(lingerMs).utf8), keys.topic]
    }

    /// Whether `reply` says the script is not cached (then send it again with `loading`).
    static func isNoScript(_ reply: RESPValue) -> Bool {
        reply.errorText?.hasPrefix("NOSCRIPT") == true
    }

    /// What one batch's publish did in Redis.
    struct Published: Equatable, Sendable {
        var epoch: [UInt8]
        /// The sequence of the batch's first message (the others follow it).
        var seq: UInt64
        /// Redis subscriptions (nodes) that the channel's message reached.
        var nodes: Int
    }

    /// The script's reply, or nil when it is not `[epoch, first, nodes]` (an error reply included).
    static func published(from reply: RESPValue) -> Published? {
        guard let items = reply.elements, items.count == 3, let epoch = items[0].bytes, !epoch.isEmpty,
              case let .integer(seq) = items[1], seq > 0, case let .integer(nodes) = items[2], nodes >= 0 else { return nil }
        return Published(epoch: epoch, seq: UInt64(seq), nodes: Int(nodes))
    }
}

/// Payloads published together to one topic, as the script carries them: each one as
/// `<length>` LF `<bytes>`, one after the other (any bytes; the lengths say where each ends).
struct PayloadBatch: Sendable {
    /// The encoded payloads.
    private(set) var bytes: [UInt8] = []
    /// How many payloads.
    private(set) var count = 0

    init() {}

    /// A batch of these payloads.
    init(_ payloads: [[UInt8]]) {
        for payload in payloads { payload.withUnsafeBytes { append($0) } }
    }

    /// Appends one payload.
    mutating func append(_ payload: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: String(payload.count).utf8)
        bytes.append(0x0A)
        bytes.append(contentsOf: payload)
        count += 1
    }

    /// The payloads of an encoded batch, in order; nil when `bytes` is not one.
    static func payloads(of bytes: ArraySlice<UInt8>) -> [[UInt8]]? {
        var payloads: [[UInt8]] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            guard let newline = bytes[index...].prefix(21).firstIndex(of: 0x0A), let length = decimal(bytes[index..<newline]),
                  let count = Int(exactly: length), count <= bytes.endIndex - newline - 1 else { return nil }
            let start = newline + 1
            payloads.append(Array(bytes[start..<(start + count)]))
            index = start + count
        }
        return payloads.isEmpty ? nil : payloads
    }
}

/// The script that reads a topic's stream as a node begins to follow it, or catches up
/// after it lost its connection to Redis: atomically, the stream's epoch (given one, as by a
/// publish, when it has none: a `SUB` makes the stream), its head, and its entries after a
/// sequence. Sent with `EVAL` (it runs once per topic a node begins to follow, not per message).
enum StreamReadScript {
    /// KEYS: meta, stream. ARGV: candidate epoch, the first id (`-` or `(<seq>-0`), count, how
    /// long the stream lives unless renewed (ms).
    static let source = """
        if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1]) == 1 then redis.call('DEL', KEYS[2]) end
        redis.call('PEXPIRE', KEYS[1], ARGV[4])
        redis.call('PEXPIRE', KEYS[2], ARGV[4])
        local meta = redis.call('HMGET', KEYS[1], 'epoch', 'seq')
        return {meta[1], tonumber(meta[2]) or 0, redis.call('XRANGE', KEYS[2], ARGV[2], '+', 'COUNT', ARGV[3])}
        """

    /// The command reading the stream at `keys` after sequence `after` (0: from its start).
    static func read(_ keys: RedisTopicKeys, after: UInt64, count: Int, candidateEpoch: [UInt8], ttlMs: Int) -> [[UInt8]] {
        [Array("EVAL".utf8), Array(source.utf8), Array("2".utf8), keys.meta, keys.stream, candidateEpoch,
         after == 0 ? Array("-".utf8) : Array("(\(after)-0".utf8), Array(String(count).utf8), Array(String(ttlMs).utf8)]
    }

    /// What the read found.
    struct State: Equatable, Sendable {
        var epoch: [UInt8]
        var head: UInt64
        var entries: [StreamEntry]

    }

    /// The reply as a ``State``, or nil when it is not `[epoch, head, entries]`.
    static func state(from reply: RESPValue) -> State? {
        guard let items = reply.elements, items.count == 3, let epoch = items[0].bytes, !epoch.isEmpty,
              case let .integer(head) = items[1], head >= 0, let entries = StreamEntries.parse(items[2]) else { return nil }
        return State(epoch: epoch, head: UInt64(head), entries: entries)
    }
}

/// One message of a topic's stream as a node reads it back: its sequence, payload, and the
/// nodes its batch was given to for each queue group (`-`: none).
struct StreamEntry: Equatable, Sendable {
    var seq: UInt64
    var payload: [UInt8]
    var assign: [UInt8] = Array("-".utf8)
}

/// A message as it comes to a node on a topic's channel, one of its batch
/// (`<epoch> <first> <assign> <batch>`).
struct ChannelMessage: Equatable, Sendable {
    var epoch: [UInt8]
    var seq: UInt64
    var payload: [UInt8]
    /// `group=node,...` for the queue groups with members somewhere, or `-`.
    var assign: [UInt8] = Array("-".utf8)

    /// The messages of one channel message, in order, or nil when `bytes` is not of that form
    /// (an empty epoch or assignment, a sequence that is not 1 to 20 digits below 2^64, or 0,
    /// a batch that is not one).
    static func parseBatch(_ bytes: [UInt8]) -> [ChannelMessage]? {
        let space = UInt8(ascii: " ")
        guard let first = bytes.firstIndex(of: space), first > 0,
              let second = bytes[(first + 1)...].firstIndex(of: space),
              let seq = decimal(bytes[(first + 1)..<second]), seq > 0,
              let third = bytes[(second + 1)...].firstIndex(of: space), third > second + 1,
              let payloads = PayloadBatch.payloads(of: bytes[(third + 1)...]),
              seq <= UInt64.max - UInt64(payloads.count - 1) else { return nil }
        let epoch = Array(bytes[..<first])
        let assign = Array(bytes[(second + 1)..<third])
        return payloads.enumerated().map { ChannelMessage(epoch: epoch, seq: seq + UInt64($0.offset), payload: $0.element, assign: assign) }
    }

    /// The node that delivers this message to queue group `group`, or nil when no node was given it.
    func node(for group: [UInt8]) -> ArraySlice<UInt8>? {
        for part in assign.split(separator: UInt8(ascii: ",")) {
            guard let equals = part.firstIndex(of: UInt8(ascii: "=")) else { continue }
            if part[part.startIndex..<equals].elementsEqual(group) { return part[(equals + 1)...] }
        }
        return nil
    }
}

/// Entries read back from a topic's stream (`XRANGE`), for a node that missed some.
enum StreamEntries {
    /// `XRANGE <stream> (<after>-0 + COUNT <count>`: the batches holding messages after
    /// sequence `after` (a batch's id is its last sequence; its first ones may be older).
    static func read(_ keys: RedisTopicKeys, after: UInt64, count: Int) -> [[UInt8]] {
        [Array("XRANGE".utf8), keys.stream, Array("(\(after)-0".utf8), Array("+".utf8), Array("COUNT".utf8), Array(String(count).utf8)]
    }

    /// The messages of the entries, in order; nil when the reply is not a list of
    /// `[<last>-0, [p, <batch>, a, <assign>]]` entries.
    static func parse(_ reply: RESPValue) -> [StreamEntry]? {
        guard let items = reply.elements else { return nil }
        var entries: [StreamEntry] = []
        entries.reserveCapacity(items.count)
        for item in items {
            guard let pair = item.elements, pair.count == 2, let id = pair[0].bytes,
                  let dash = id.firstIndex(of: UInt8(ascii: "-")), id[(dash + 1)...].elementsEqual("0".utf8),
                  let last = decimal(id[..<dash]), last > 0,
                  let fields = pair[1].elements, fields.count == 4, fields[0].bytes == Array("p".utf8),
                  fields[2].bytes == Array("a".utf8), let batch = fields[1].bytes, let assign = fields[3].bytes, !assign.isEmpty,
                  let payloads = PayloadBatch.payloads(of: batch[...]), UInt64(payloads.count) <= last else { return nil }
            let first = last - UInt64(payloads.count) + 1
            for (offset, payload) in payloads.enumerated() {
                entries.append(StreamEntry(seq: first + UInt64(offset), payload: payload, assign: assign))
            }
        }
        return entries
    }
}

/// A strict decimal (the wire's: 1 to 20 ASCII digits, below 2^64), or nil.
private func decimal(_ digits: ArraySlice<UInt8>) -> UInt64? {
    digits.withUnsafeBytes { ServerFrameParser.parseDecimal($0) }
}
