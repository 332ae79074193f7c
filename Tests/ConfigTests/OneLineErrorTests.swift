// An error's description is one line whatever a file or flag put in it.
import Testing
@testable import Broker

@Suite struct OneLineErrorTests {
    @Test func unicodeLineBreaksAndControlsAreEscaped() {
        for breaker in ["\u{2028}", "\u{2029}", "\u{85}", "\n", "\r", "\u{1b}", "\u{9b}"] {
            let error = ConfigError.badFileEntry(file: "f", line: 1, key: "port", reason: "got 'a\(breaker)b'")
            #expect(!error.description.contains { $0.isNewline }, "\(breaker.unicodeScalars.map(\.value))")
            #expect(error.description.unicodeScalars.allSatisfy { $0.value >= 0x20 && !(0x7F...0x9F).contains($0.value) })
        }
        #expect(throws: ConfigError.self) { try ConfigFileParser.parse("port 1\u{2028}2\n", file: "f") }
    }

    @Test func aFlagValueStartingWithACombiningMarkIsSplitAtTheEqualsSign() throws {
        let command = try BrokerCommandLine.parse(["--auth-token-file=\u{318}x"], files: .inMemory([:]))
        guard case let .run(config, _, _) = command else {
            Issue.record("not a run command")
            return
        }
        #expect(config.authTokenFile == "\u{318}x")
    }
}
