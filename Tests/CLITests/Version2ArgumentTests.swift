// broker-cli's version 2 options without sockets: sub --from/--last/--group/--seq/--protocol, pub --file/--binary, bench --protocol.
import BrokerClient
import Protocol
import Testing
@testable import broker_cli

private func run(_ line: String) throws -> Invocation {
    guard case let .run(invocation) = try parseArguments(line.split(separator: " ").map(String.init), environment: [:]) else {
        throw UsageError(message: "not a run")
    }
    return invocation
}

private func usage(_ line: String) -> String? {
    do {
        _ = try parseArguments(line.split(separator: " ").map(String.init), environment: [:])
        return nil
    } catch {
        return error.text
    }
}

private func usageLine(_ message: String, _ subcommand: String) -> String {
    "broker-cli: \(message)\nRun 'broker-cli help \(subcommand)' for usage.\n"
}

@Suite struct Version2Options {
    @Test func subTakesAPositionTheLastMessagesAGroupAndTheSequence() throws {
        let from = try run("sub t --from k3x9:12 --seq")
        #expect(from.from == StreamPosition(epoch: "k3x9", seq: 12) && from.showSeq && from.needsVersion2)
        #expect(try run("sub t --last=5").last == 5)
        let group = try run("sub a.* b --group work_ers-1")
        #expect(group.group == "work_ers-1" && group.arguments == ["a.*", "b"])
        let plain = try run("sub t")
        #expect(plain.protocolVersion == nil && !plain.needsVersion2)
    }

    @Test func protocolIsOneOrTwoForSubAndBench() throws {
        #expect(try run("sub t --protocol 1").protocolVersion == .v1)
        #expect(try run("bench --protocol 2").protocolVersion == .v2)
        #expect(try run("sub t --protocol 2").needsVersion2)
        #expect(usage("sub t --protocol 3") == usageLine("invalid protocol version '3' (1 or 2)", "sub"))
        #expect(usage("bench --protocol two") == usageLine("invalid protocol version 'two' (1 or 2)", "bench"))
        #expect(usage("pub t m --protocol 2") == usageLine("unknown option '--protocol'", "pub"))
    }

    @Test func badPositionsCountsAndGroupNamesAreUsageErrors() {
        #expect(usage("sub t --from 12") == usageLine("invalid position '12' (EPOCH:SEQ, as in 'k3x9:12')", "sub"))
        #expect(usage("sub t --from K3:1") == usageLine("invalid position 'K3:1' (EPOCH:SEQ, as in 'k3x9:12')", "sub"))
        #expect(usage("sub t --from k3:-1") == usageLine("invalid position 'k3:-1' (EPOCH:SEQ, as in 'k3x9:12')", "sub"))
        #expect(usage("sub t --last 0") == usageLine("invalid count for --last '0'", "sub"))
        #expect(usage("sub t --group a.b") == usageLine("invalid group name 'a.b' (1 to 64 of A-Z a-z 0-9 _ -)", "sub"))
        #expect(usage("sub t --group " + String(repeating: "g", count: 65)) != nil)
    }

    @Test func fromAndLastNeedOneConcreteTopicAndExcludeEachOther() {
        #expect(usage("sub t --from k:1 --last 2") == usageLine("--from and --last exclude each other", "sub"))
        #expect(usage("sub a.* --from k:1") == usageLine("--from needs exactly one topic, not a pattern", "sub"))
        #expect(usage("sub a b --last 1") == usageLine("--last needs exactly one topic, not a pattern", "sub"))
    }

    @Test func version2OptionsDoNotGoWithProtocol1() {
        #expect(usage("sub t --protocol 1 --seq") == usageLine("--seq needs protocol version 2", "sub"))
        #expect(usage("sub t --group g --protocol 1") == usageLine("--group needs protocol version 2", "sub"))
        #expect(usage("sub t --last 3 --protocol 1") == usageLine("--last needs protocol version 2", "sub"))
    }

    @Test func subOptionsBelongToSub() {
        #expect(usage("pub t m --seq") == usageLine("unknown option '--seq'", "pub"))
        #expect(usage("bench --group g") == usageLine("unknown option '--group'", "bench"))
    }

    @Test func pubPublishesAFileOrStdinAsOneMessage() throws {
        let file = try run("pub t --file /tmp/payload.bin -v")
        #expect(file.file == "/tmp/payload.bin" && file.verbose && file.arguments == ["t"])
        #expect(try run("pub t --binary").binary)
        #expect(usage("pub t --file") == usageLine("option '--file' needs a value", "pub"))
        #expect(usage("pub t --file=") == usageLine("invalid file ''", "pub"))
        #expect(usage("pub t --file f --binary") == usageLine("--file and --binary exclude each other", "pub"))
        #expect(usage("pub t hello --binary") == usageLine("--binary publishes one message and takes no message words", "pub"))
        #expect(usage("pub t --file f hello") == usageLine("--file publishes one message and takes no message words", "pub"))
        #expect(usage("sub t --binary") == usageLine("unknown option '--binary'", "sub"))
    }
}

@Suite struct Version2Output {
    private func json(_ payload: [UInt8], topic: String = "t", seq: UInt64? = 7, epoch: String? = "k3") -> String {
        var out: [UInt8] = []
        payload.withUnsafeBytes { bytes in
            JSONFormat.appendMessage(MessageView(topic: topic, payload: bytes, seq: seq, epoch: epoch),
                                     formattedTime: "2026-01-01T00:00:00.000000Z", to: &out)
        }
        return String(decoding: out, as: UTF8.self)
    }

    @Test func aJSONLineCarriesEpochAndSeqAsStrings() {
        #expect(json(Array("hi".utf8))
            == #"{"topic": "t", "epoch": "k3", "seq": "7", "payload": "hi", "time": "2026-01-01T00:00:00.000000Z"}"# + "\n")
    }

    @Test func anUnknownEpochOrSequenceIsLeftOut() {
        #expect(json(Array("hi".utf8), seq: nil, epoch: nil)
            == #"{"topic": "t", "payload": "hi", "time": "2026-01-01T00:00:00.000000Z"}"# + "\n")
        #expect(json(Array("hi".utf8), epoch: nil).contains(#"{"topic": "t", "seq": "7", "payload""#))
    }

    @Test func utf8PayloadsAreEscapedTextWithControlCharactersAndLF() {
        #expect(json(Array("é\n\"\\\u{01}".utf8)).contains(#""payload": "é\n\"\\\u0001", "time""#))
    }

    @Test func aPayloadThatIsNotUTF8IsBase64WithAFlag() {
        #expect(json([0xFF, 0x00, 0x0A]).contains(#""payload": "/wAK", "base64": true, "time""#))
        #expect(json([0x61, 0xC3]).contains(#""payload": "YcM=", "base64": true"#))  // a truncated sequence
        #expect(json([0xED, 0xA0, 0x80]).contains(#""base64": true"#))  // an encoded surrogate is not UTF-8
        #expect(!json([]).contains("base64"))
    }

    @Test func base64FollowsRFC4648() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (input, output) in vectors { #expect(Base64.encode(Array(input.utf8)) == output) }
        #expect(Base64.encode([0xFB, 0xFF, 0xBF]) == "+/+/")
    }
}

@Suite struct Version2CLIWithoutDaemon {
    @Test func aVersion2UsageErrorExits64() throws {
        let child = try Child.cli(["sub", "t", "--protocol", "1", "--seq"])
        #expect(child.waitForExit() == 64)
        #expect(child.stderr.waitForEnd() == ["broker-cli: --seq needs protocol version 2", "Run 'broker-cli help sub' for usage."])
    }

    @Test func aFileThatCannotBeReadExits1BeforeConnecting() throws {
        let port = try closedPort()
        let child = try Child.cli(["pub", "t", "--file", "/nonexistent/payload", "--port", String(port)])
        #expect(child.waitForExit() == 1)
        #expect(child.stderr.waitForEnd() == ["broker-cli: cannot read /nonexistent/payload: No such file or directory"])
    }

    @Test func subGoesOnInVersion1WithABrokerThatKnowsOnlyVersion1() throws {
        let peer = try ScriptedBroker { line in line == "SUB t" ? Array("OK\nMSG t old\n".utf8) : nil }
        let child = try Child.cli(["sub", "t", "--count", "1", "--port", String(peer.port)])
        #expect(child.waitForExit() == 0)
        #expect(child.stdout.waitForEnd() == ["old"])
        #expect(peer.received == ["HELLO 2", "SUB t"])
    }

    @Test func subThatNeedsVersion2SaysSoToABrokerThatKnowsOnlyVersion1() throws {
        let peer = try ScriptedBroker { _ in Array("OK\n".utf8) }
        let child = try Child.cli(["sub", "t", "--seq", "--port", String(peer.port)])
        #expect(child.waitForExit() == 1)
        #expect(child.stderr.waitForEnd()
            == ["broker-cli: unknown-command the broker does not speak protocol version 2 (unknown command 'HELLO')"])
    }

    @Test func subInVersion2PrintsSequencesAndLagFromGaps() throws {
        var frames = Array("OK e1 0\n".utf8)
        WireEncoder.appendMsgV2(topic: Array("t".utf8), seq: 1, payload: Array("a".utf8), to: &frames)
        WireEncoder.appendMsgV2(topic: Array("t".utf8), seq: 4, payload: Array("d".utf8), to: &frames)
        let script = frames
        let peer = try ScriptedBroker(scriptsHello: true) { line in line == "HELLO 2" ? Array("OK 2\n".utf8) : script }
        let child = try Child.cli(["sub", "-v", "--seq", "t", "--count", "2", "--port", String(peer.port)])
        #expect(child.waitForExit() == 0)
        #expect(child.stdout.waitForEnd() == ["t 1 a", "t 4 d"])
        #expect(child.stderr.waitForEnd() == [
            "broker-cli: subscribed to t on 127.0.0.1:\(peer.port)",
            "broker-cli: lagged on t: 2 messages missed",
            "broker-cli: received 2 messages, 2 missed (lagged)",
        ])
    }
}
