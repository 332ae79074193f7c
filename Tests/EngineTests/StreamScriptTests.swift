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
        let payload: [UInt8] = Array(0...255)
        let command = StreamScript.publish(payload, keys: keys, capacity: 65536, candidateEpoch: bytes("e1"))
        #expect(command == [bytes("EVALSHA"), bytes(StreamScript.sha1Hex), bytes("2"), keys.meta, keys.stream,
                            payload, bytes("65536"), bytes("e1"), keys.channel])
        #expect(StreamScript.sha1Hex == SHA1.hex(of: bytes(StreamScript.source)))
        #expect(StreamScript.sha1Hex.count == 40)
        let loading = StreamScript.publish(payload, keys: keys, capacity: 8, candidateEpoch: bytes("e1"), loading: true)
        #expect(loading.prefix(2) == [bytes("EVAL"), bytes(StreamScript.source)])
        #expect(Array(loading.dropFirst(2)) == Array(command.dropFirst(2)).map { $0 == bytes("65536") ? bytes("8") : $0 })
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

    @Test func aChannelMessageKeepsItsPayloadWhole() {
        let payload: [UInt8] = Array(0...255) + bytes(" with spaces \n")
        let message = ChannelMessage(epoch: bytes("e9"), seq: 18_446_744_073_709_551_615, payload: payload)
        #expect(ChannelMessage.parse(message.bytes) == message)
        #expect(ChannelMessage.parse(bytes("e 1 ")) == ChannelMessage(epoch: bytes("e"), seq: 1, payload: []))
        for bad in ["", "e", "e 1", " 1 x", "e 0 x", "e x x", "e 18446744073709551616 x", "e -1 x", "e  x"] {
            #expect(ChannelMessage.parse(bytes(bad)) == nil, "\(bad)")
        }
    }

    @Test func streamEntriesAreReadInOrderOrRefused() {
        let keys = RedisTopicKeys(prefix: bytes("b:"), topic: bytes("t"))
        #expect(StreamEntries.read(keys, after: 41, count: 100)
            == [bytes("XRANGE"), keys.stream, bytes("(41-0"), bytes("+"), bytes("COUNT"), bytes("100")])
        func entry(_ id: String, _ payload: [UInt8]) -> RESPValue {
            .array([.bulkString(bytes(id)), .array([.bulkString(bytes("p")), .bulkString(payload)])])
        }
        let read = StreamEntries.parse(.array([entry("42-0", bytes("a")), entry("43-0", [0, 10, 13])]))
        #expect(read?.map(\.seq) == [42, 43])
        #expect(read?.map(\.payload) == [bytes("a"), [0, 10, 13]])
        #expect(StreamEntries.parse(.array([]))?.isEmpty == true)
        for bad: RESPValue in [.null, .array([entry("42-1", [])]), .array([entry("x-0", [])]), .array([entry("0-0", [])]),
                               .array([.array([.bulkString(bytes("1-0")), .array([.bulkString(bytes("q")), .bulkString([])])])])] {
            #expect(StreamEntries.parse(bad) == nil, "\(bad)")
        }
    }
}
