// The cluster engine's Redis forms, without Redis: keys, the publish command, replies, channel messages, stream entries.
import Protocol
import RESP
import Testing
@testable import Broker

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite struct StreamScriptTests {
    @Test func aTopicsKeysShareItsHashTag() {
        let keys = RedisTopicKeys(prefix: bytes("broker:"), topic: bytes("orders.eu"))
        #expect(keys.meta == bytes("broker:{orders.eu}:m"))
        #expect(keys.stream == bytes("broker:{orders.eu}:s"))
        #expect(keys.channel == bytes("broker:{orders.eu}:c"))
    }

    @Test func thePublishCommandNamesTheScriptByItsSHA1AndCarriesAnyBytes() {
        let keys = RedisTopicKeys(prefix: bytes("b:"), topic: bytes("t"))
        #expect(keys.groups == bytes("b:{t}:q"))
        let payload: [UInt8] = Array(0...255)
        let batch = PayloadBatch([payload, bytes("two")])
        let command = StreamScript.publish(batch, keys: keys, capacity: 65536, candidateEpoch: bytes("e1"))
        #expect(command == [bytes("EVALSHA"), bytes(StreamScript.sha1Hex), bytes("4"), keys.meta, keys.stream, keys.groups,
                            bytes("b:patterngroups"), batch.bytes, bytes("2"), bytes("65536"), bytes("e1"), keys.channel,
                            bytes("60000"), bytes("t")])
        #expect(StreamScript.sha1Hex == SHA1.hex(of: bytes(StreamScript.source)))
        #expect(StreamScript.sha1Hex.count == 40)
        let loading = StreamScript.publish(batch, keys: keys, capacity: 8, candidateEpoch: bytes("e1"), loading: true)
        #expect(loading.prefix(2) == [bytes("EVAL"), bytes(StreamScript.source)])
        #expect(Array(loading.dropFirst(2)) == Array(command.dropFirst(2)).map { $0 == bytes("65536") ? bytes("8") : $0 })
    }

    @Test func aBatchKeepsEachPayloadWholeWhateverItsBytes() {
        let payloads: [[UInt8]] = [Array(0...255), [], bytes("12\n34"), bytes(String(repeating: "x", count: 70_000))]
        var batch = PayloadBatch()
        for payload in payloads { payload.withUnsafeBytes { batch.append($0) } }
        #expect(batch.count == 4)
        #expect(Array(batch.bytes.prefix(4)) == bytes("256\n"))
        #expect(PayloadBatch.payloads(of: batch.bytes[...]) == payloads)
        for bad in ["", "3\nab", "x\nab", "2\nab3", "-1\n", "99999999999999999999999\n"] {
            #expect(PayloadBatch.payloads(of: bytes(bad)[...]) == nil, "\(bad.debugDescription)")
        }
    }

    @Test func theScriptsReplyIsReadOrRefused() {
        let good = RESPValue.array([.bulkString(bytes("e1")), .integer(7), .integer(3)])
        #expect(StreamScript.published(from: good) == StreamScript.Published(epoch: bytes("e1"), seq: 7, nodes: 3))
        #expect(StreamScript.published(from: .error(bytes("NOSCRIPT No matching script"))) == nil)
        #expect(StreamScript.isNoScript(.error(bytes("NOSCRIPT No matching script. Please use EVAL."))))
        #expect(!StreamScript.isNoScript(.error(bytes("ERR something else"))))
        for bad: RESPValue in [.array([.bulkString(bytes("e1")), .integer(0), .integer(1)]),
                               .array([.bulkString([]), .integer(1), .integer(1)]),
                               .array([.bulkString(bytes("e1")), .integer(1)]),
                               .array([.bulkString(bytes("e1")), .bulkString(bytes("1")), .integer(1)]),
                               .array([.bulkString(bytes("e1")), .integer(1), .integer(-1)]), .null] {
            #expect(StreamScript.published(from: bad) == nil, "\(bad)")
        }
    }

    @Test func aChannelMessageIsABatchOfConsecutiveSequences() {
        let batch = PayloadBatch([Array(0...255) + bytes(" with spaces \n"), bytes("b")])
        let read = ChannelMessage.parseBatch(bytes("e9 41 g1=n1,g2=n2 ") + batch.bytes)
        #expect(read?.map(\.seq) == [41, 42])
        #expect(read?.map(\.payload) == [Array(0...255) + bytes(" with spaces \n"), bytes("b")])
        #expect(read?.first?.epoch == bytes("e9"))
        #expect(read?.first?.node(for: bytes("g2")) == bytes("n2")[...])
        #expect(read?.first?.node(for: bytes("g")) == nil)
        #expect(ChannelMessage.parseBatch(bytes("e 18446744073709551615 - 1\nx"))?.first?.seq == 18_446_744_073_709_551_615)
        for bad in ["", "e", "e 1", "e 1 - ", " 1 - 1\nx", "e 0 - 1\nx", "e x - 1\nx", "e 18446744073709551616 - 1\nx",
                    "e -1 - 1\nx", "e 1  1\nx", "e 18446744073709551615 - 1\nx1\ny", "e 1 - 2\nx"] {
            #expect(ChannelMessage.parseBatch(bytes(bad)) == nil, "\(bad.debugDescription)")
        }
    }

    @Test func streamEntriesAreReadInOrderOrRefused() {
        let keys = RedisTopicKeys(prefix: bytes("b:"), topic: bytes("t"))
        #expect(StreamEntries.read(keys, after: 41, count: 100)
            == [bytes("XRANGE"), keys.stream, bytes("(41-0"), bytes("+"), bytes("COUNT"), bytes("100")])
        func entry(_ id: String, _ payloads: [[UInt8]], assign: String = "-") -> RESPValue {
            .array([.bulkString(bytes(id)), .array([.bulkString(bytes("p")), .bulkString(PayloadBatch(payloads).bytes),
                                                    .bulkString(bytes("a")), .bulkString(bytes(assign))])])
        }
        let read = StreamEntries.parse(.array([entry("42-0", [bytes("a")]), entry("44-0", [[0, 10, 13], bytes("c")], assign: "g=n")]))
        #expect(read?.map(\.seq) == [42, 43, 44], "an entry's id is its batch's last sequence")
        #expect(read?.map(\.payload) == [bytes("a"), [0, 10, 13], bytes("c")])
        #expect(read?.map(\.assign) == [bytes("-"), bytes("g=n"), bytes("g=n")])
        #expect(StreamEntries.parse(.array([]))?.isEmpty == true)
        for bad: RESPValue in [.null, .array([entry("42-1", [[]])]), .array([entry("x-0", [[]])]), .array([entry("0-0", [[]])]),
                               .array([entry("1-0", [[], []])]),
                               .array([.array([.bulkString(bytes("1-0")), .array([.bulkString(bytes("p")), .bulkString(bytes("1\nx"))])])])] {
            #expect(StreamEntries.parse(bad) == nil, "\(bad)")
        }
    }
}

