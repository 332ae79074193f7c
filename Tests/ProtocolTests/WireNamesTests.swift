// Every named wire spelling pinned to PROTOCOL.md and docs/protocol.md, and every error code documented.
import Foundation
import Protocol
import Testing

@Suite struct WireNamesTests {
    /// The package root (three levels above this file).
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// PROTOCOL.md is kept beside the repository, in `../shared` (docs/protocol.md says so).
    static func protocolSpec() throws -> String {
        try String(contentsOf: root.deletingLastPathComponent().appendingPathComponent("shared/PROTOCOL.md"), encoding: .utf8)
    }

    /// docs/protocol.md from its `## Extensions` heading on.
    static func extensionsSection() throws -> String {
        let docs = try String(contentsOf: root.appendingPathComponent("docs/protocol.md"), encoding: .utf8)
        let start = try #require(docs.range(of: "\n## Extensions\n"), "docs/protocol.md has no Extensions section")
        return String(docs[start.lowerBound...])
    }

    @Test func theCodesOfVersionOneHaveTheirWireSpellings() {
        #expect(ErrorCode.unknownCommand.rawValue == "unknown-command")
        #expect(ErrorCode.badArguments.rawValue == "bad-arguments")
        #expect(ErrorCode.badTopic.rawValue == "bad-topic")
        #expect(ErrorCode.reservedTopic.rawValue == "reserved-topic")
        #expect(ErrorCode.lineTooLong.rawValue == "line-too-long")
        #expect(ErrorCode.notSubscribed.rawValue == "not-subscribed")
        #expect(ErrorCode.tooManySubscriptions.rawValue == "too-many-subscriptions")
    }

    @Test func theByeCodesHaveTheirWireSpellings() {
        #expect(ErrorCode.shuttingDown.rawValue == "shutting-down")
        #expect(ErrorCode.tooManyConnections.rawValue == "too-many-connections")
        #expect(ErrorCode.idleTimeout.rawValue == "idle-timeout")
        #expect(ErrorCode.badFraming.rawValue == "bad-framing")
    }

    @Test func theExtensionCodesHaveTheirWireSpellings() {
        #expect(ErrorCode.authRequired.rawValue == "auth-required")
        #expect(ErrorCode.authFailed.rawValue == "auth-failed")
        #expect(ErrorCode.noSuchTopic.rawValue == "no-such-topic")
        #expect(ErrorCode.tooManyTopics.rawValue == "too-many-topics")
    }

    @Test func theCodesOfVersionTwoHaveTheirWireSpellings() {
        #expect(ErrorCode.unsupportedVersion.rawValue == "unsupported-version")
        #expect(ErrorCode.payloadTooLarge.rawValue == "payload-too-large")
        #expect(ErrorCode.badFraming.rawValue == "bad-framing")
    }

    @Test func everyCodeIsOneLowercaseWordWithDashesAndListedOnce() {
        for code in ErrorCode.known {
            #expect(!code.rawValue.isEmpty && code.rawValue.allSatisfy { $0 == "-" || ("a"..."z").contains($0) }, "\(code)")
        }
        #expect(Set(ErrorCode.known).count == ErrorCode.known.count)
    }

    /// A constant added to ErrorCode.swift but not to `known` would escape the checks below.
    @Test func knownHoldsEveryCodeDeclaredInErrorCodeSwift() throws {
        let source = try String(contentsOf: Self.root.appendingPathComponent("Sources/Protocol/ErrorCode.swift"), encoding: .utf8)
        let marker = "= ErrorCode(rawValue: \""
        var declared: [String] = []
        for line in source.split(separator: "\n") where line.contains("static let") {
            guard let start = line.range(of: marker) else { continue }
            let rest = line[start.upperBound...]
            guard let end = rest.firstIndex(of: "\"") else { continue }
            declared.append(String(rest[..<end]))
        }
        #expect(declared.count >= 17)
        #expect(declared == ErrorCode.known.map(\.rawValue))
    }

    @Test func everyCodeIsInProtocolMdOrTheExtensionsOfDocsProtocolMd() throws {
        let spec = try Self.protocolSpec()
        let extensions = try Self.extensionsSection()
        for code in ErrorCode.known {
            let quoted = "`\(code.rawValue)`"
            #expect(spec.contains(quoted) || extensions.contains(quoted),
                    "\(code) is neither in PROTOCOL.md nor in the Extensions of docs/protocol.md")
        }
    }

    /// The other way round: a code added to an error table has a constant.
    @Test func everyCodeInAnErrorCodeTableIsKnown() throws {
        let known = Set(ErrorCode.known.map(\.rawValue))
        var tabled: [String] = []
        for text in [try Self.protocolSpec(), try Self.extensionsSection()] {
            var inErrorCodes = false
            for line in text.split(separator: "\n") {
                if line.hasPrefix("#") { inErrorCodes = line.contains("Error codes") }
                guard inErrorCodes, line.hasPrefix("| `") else { continue }
                let cell = line.dropFirst(3)
                guard let end = cell.firstIndex(of: "`") else { continue }
                tabled.append(String(cell[..<end]))
            }
        }
        #expect(tabled.count >= 14)
        for code in tabled { #expect(known.contains(code), "\(code) is documented but has no ErrorCode constant") }
    }

    @Test func theBytesOfNamesAreTheSpecsCharacters() {
        #expect(Names.levelSeparator == UInt8(ascii: "."))
        #expect(Names.singleLevelWildcard == UInt8(ascii: "*"))
        #expect(Names.multiLevelWildcard == UInt8(ascii: ">"))
        #expect(Names.reservedPrefix == UInt8(ascii: "$"))
    }

    @Test func theBrokerTopicsAreReservedTopicsUnderSys() {
        #expect(SystemTopicName.root == "$SYS")
        #expect(SystemTopicName.lagged == "$SYS.lagged")
        #expect(SystemTopicName.stats == "$SYS.stats")
        for name in [SystemTopicName.lagged, SystemTopicName.stats] {
            #expect(name.hasPrefix(SystemTopicName.root + "."))
            Array(name.utf8).withUnsafeBytes { bytes in
                #expect(Names.validateTopic(bytes) == nil, "\(name)")
                #expect(Names.isReserved(bytes), "\(name)")
            }
        }
    }
}
