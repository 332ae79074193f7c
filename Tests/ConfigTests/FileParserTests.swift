import Testing
@testable import Broker

@Suite struct FileParserTests {
    func errorOf(_ text: String, file: String = "b.conf") -> ConfigError? {
        do {
            _ = try ConfigFileParser.parse(text, file: file)
            return nil
        } catch {
            return error
        }
    }

    @Test func emptyTextGivesBase() throws {
        #expect(try ConfigFileParser.parse("", file: "x") == BrokerConfig())
        var base = BrokerConfig()
        base.port = 1
        #expect(try ConfigFileParser.parse("\n\n# only comments\n", file: "x", base: base) == base)
    }

    @Test func commentsBlankLinesWhitespaceAndQuotes() throws {
        let text = """
        # a comment
            # an indented comment

        \t  port \t 8000   \t
        host    "::1"
        log_level\tdebug
        capacity "16"
        """
        let config = try ConfigFileParser.parse(text, file: "x")
        var expected = BrokerConfig()
        expected.port = 8000
        expected.host = "::1"
        expected.logLevel = .debug
        expected.capacity = 16
        #expect(config == expected)
    }

    @Test func crlfLineEndings() throws {
        let config = try ConfigFileParser.parse("port 9000\r\n# c\r\nmax_topics 5\r\n", file: "x")
        #expect(config.port == 9000)
        #expect(config.maxTopics == 5)
    }

    @Test func unknownKey() {
        let error = errorOf("port 1\n\nfrobnicate 3\n", file: "conf/broker.conf")
        #expect(error == .badFileEntry(file: "conf/broker.conf", line: 3, key: "frobnicate", reason: "unknown key"))
        #expect(error?.description == "conf/broker.conf:3: frobnicate: unknown key")
        #expect(error?.exitCode == 78)
    }

    @Test func unknownKeyWithDashesSuggestsTheKey() {
        #expect(errorOf("max-line-bytes 100")?.description
            == "b.conf:1: max-line-bytes: unknown key (did you mean 'max_line_bytes'?)")
        #expect(errorOf("PORT 1")?.description == "b.conf:1: PORT: unknown key (did you mean 'port'?)")
    }

    @Test func duplicateKey() {
        let error = errorOf("# x\nport 1\nhost ::1\nport 2\n")
        #expect(error == .badFileEntry(file: "b.conf", line: 4, key: "port", reason: "duplicate key (first set on line 2)"))
        #expect(error?.description == "b.conf:4: port: duplicate key (first set on line 2)")
    }

    @Test func missingValue() {
        #expect(errorOf("port")?.description == "b.conf:1: port: missing value")
        #expect(errorOf("  port \t ")?.description == "b.conf:1: port: missing value")
    }

    @Test func trailingCommentsAreRejected() {
        #expect(errorOf("port 7400 # the port")?.description
            == "b.conf:1: port: expected one value, got '7400 # the port'; comments must be on their own line and values with spaces are not allowed")
        #expect(errorOf("host \"::1\" # v6")?.description
            == "b.conf:1: host: unexpected text after the closing quote in '\"::1\" # v6'; comments must be on their own line")
    }

    @Test func badQuotes() {
        #expect(errorOf("host \"::1")?.description == "b.conf:1: host: unterminated quoted value '\"::1'")
        #expect(errorOf("host ::1\"")?.description
            == "b.conf:1: host: expected one value, got '::1\"'; comments must be on their own line and values with spaces are not allowed")
    }

    @Test func firstErrorWins() {
        #expect(errorOf("port x\nbogus 1\n")?.description
            == "b.conf:1: port: expected an integer from 0 to 65535, got 'x'")
    }

    @Test func errorDescriptionIsOneLine() {
        let error = ConfigError.badFileEntry(file: "a\nb.conf", line: 1, key: "k", reason: "r\tx")
        #expect(error.description == "a\\nb.conf:1: k: r\\tx")
        #expect(!error.description.contains("\n"))
    }

    @Test func loaderNamesUnreadableFile() {
        let files = ConfigFileAccess.inMemory([:])
        #expect(throws: ConfigError.unreadableFile(file: "/etc/nope.conf",
                                                   reason: "cannot read configuration file: No such file or directory")) {
            try ConfigLoader.load(path: "/etc/nope.conf", files: files)
        }
        let error = ConfigError.unreadableFile(file: "/etc/nope.conf", reason: "cannot read configuration file: No such file or directory")
        #expect(error.description == "/etc/nope.conf: cannot read configuration file: No such file or directory")
        #expect(error.exitCode == 78)
    }
}
