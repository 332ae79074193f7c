import Foundation
import Testing
@testable import Broker

/// Checks the files shipped next to the code so they cannot go stale.
@Suite struct ShippedFilesTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func text(_ relative: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(relative), encoding: .utf8)
    }

    /// `threads` is left commented out in the shipped file so its default
    /// keeps following the machine's CPU count; every other key is set to
    /// its default, so parsing gives exactly `BrokerConfig()`.
    @Test func shippedConfigIsTheDefaults() throws {
        let path = Self.root.appendingPathComponent("conf/broker.conf").path
        let config = try ConfigLoader.load(path: path, files: .live)
        #expect(config == BrokerConfig())
    }

    @Test func shippedConfigMentionsEveryKeyWithDefaultAndReload() throws {
        let lines = try Self.text("conf/broker.conf").split(separator: "\n").map(String.init)
        for key in ConfigKey.all {
            let setting = lines.firstIndex { $0.hasPrefix("\(key.name) ") || $0.hasPrefix("# \(key.name) ") }
            #expect(setting != nil, "conf/broker.conf lacks \(key.name)")
            guard let setting else { continue }
            // The comment block right above the setting states reload behaviour.
            var commentBlock: [String] = []
            var index = setting - 1
            while index >= 0, lines[index].hasPrefix("#") {
                commentBlock.append(lines[index])
                index -= 1
            }
            let block = commentBlock.joined(separator: "\n")
            #expect(block.contains("Reloads live: \(key.reloadsLive ? "yes" : "no")."), "\(key.name)")
            #expect(block.contains("Default:"), "\(key.name)")
        }
    }

    @Test func docsMentionEveryKeyAndFlag() throws {
        let docs = try Self.text("docs/configuration.md")
        for key in ConfigKey.all {
            #expect(docs.contains("`\(key.name)`"), "docs lack \(key.name)")
            #expect(docs.contains("`\(key.flag)"), "docs lack \(key.flag)")
        }
        #expect(docs.contains("configuration reloaded"))
        #expect(docs.contains("reload rejected: "))
    }

    /// The "Reloads live" column of the key table says what each key's `ApplyPath` does.
    @Test func docsSayHowEachKeyReloads() throws {
        let rows = try Self.text("docs/configuration.md").split(separator: "\n").filter { $0.hasPrefix("| `") }
        for key in ConfigKey.all {
            let row = rows.first { $0.hasPrefix("| `\(key.name)` |") }
            #expect(row != nil, "docs/configuration.md has no table row for \(key.name)")
            guard let row else { continue }
            // | Key | Flag | Default | Allowed | Reloads live | Meaning |
            let cells = row.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(cells.count > 5 && cells[5] == key.applyPath.summary,
                    "\(key.name): the docs say '\(cells.count > 5 ? cells[5] : "")', its ApplyPath says '\(key.applyPath.summary)'")
        }
    }

    @Test func unitStopTimeoutCoversShutdownGrace() throws {
        let unit = try Self.text("conf/broker-server.service")
        let line = try #require(unit.split(separator: "\n").first { $0.hasPrefix("TimeoutStopSec=") })
        let seconds = try #require(Int(line.dropFirst("TimeoutStopSec=".count).filter(\.isNumber)))
        #expect(seconds * 1000 > BrokerConfig().shutdownGraceMs)
        #expect(unit.contains("ExecStart=/usr/local/bin/broker-server --config /usr/local/etc/broker/broker.conf\n"))
        #expect(unit.contains("ExecReload=/bin/kill -HUP $MAINPID\n"))
        #expect(unit.contains("DynamicUser=yes\n"))
    }

    @Test func realTemporaryFile() throws {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("config-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("broker.conf")
        try "# test\nport 0\nlog_level warn\n".write(to: file, atomically: true, encoding: .utf8)

        let command = try BrokerCommandLine.parse(["--config", file.path, "--threads=2"], files: .live)
        var expected = BrokerConfig()
        expected.port = 0
        expected.logLevel = .warn
        expected.threads = 2
        #expect(command == .run(config: expected, configPath: file.path, overriddenKeys: ["threads"]))

        // Unreadable: a directory and a missing file.
        #expect(throws: ConfigError.unreadableFile(file: dir.path, reason: "cannot read configuration file: Is a directory")) {
            try ConfigLoader.load(path: dir.path, files: .live)
        }
        let missing = dir.appendingPathComponent("missing.conf").path
        #expect(throws: ConfigError.unreadableFile(file: missing, reason: "cannot read configuration file: No such file or directory")) {
            try ConfigLoader.load(path: missing, files: .live)
        }
        #expect(ConfigFileAccess.live.exists(file.path))
        #expect(!ConfigFileAccess.live.exists(missing))

        // Not UTF-8.
        let binary = dir.appendingPathComponent("bin.conf")
        try Data([0x70, 0x6F, 0x72, 0x74, 0x20, 0xFF, 0x0A]).write(to: binary)
        #expect(throws: ConfigError.unreadableFile(file: binary.path, reason: "cannot read configuration file: file is not valid UTF-8")) {
            try ConfigLoader.load(path: binary.path, files: .live)
        }
    }
}
