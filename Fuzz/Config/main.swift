// libFuzzer target: ConfigFileParser on the input as text, BrokerCommandLine.parse on it split at NUL bytes.
//
// Built with the sources of Sources/Broker/Config in one module (see scripts/fuzz.sh);
// they need nothing else from Broker. Every check traps on failure so libFuzzer reports it.

#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    var line = "fuzz invariant violated: \(message)\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    abort()
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

/// The ranges docs/configuration.md and conf/broker.conf document, written out
/// here rather than read from `ConfigKey.all` so that the check is independent.
func checkRanges(_ config: BrokerConfig) {
    func inRange(_ value: Int, _ range: ClosedRange<Int>, _ name: String) {
        check(range.contains(value), "\(name) = \(value) outside \(range)")
    }
    inRange(config.port, 0...65_535, "port")
    inRange(config.threads, 1...4096, "threads")
    inRange(config.capacity, 1...16_777_216, "capacity")
    inRange(config.maxConnections, 0...16_777_216, "max_connections")
    inRange(config.maxSubscriptionsPerConnection, 1...16_777_216, "max_subscriptions_per_connection")
    inRange(config.maxTopics, 1...268_435_456, "max_topics")
    inRange(config.maxLineBytes, 64...67_108_864, "max_line_bytes")
    inRange(config.idleTimeoutMs, 0...86_400_000, "idle_timeout_ms")
    inRange(config.shutdownGraceMs, 0...600_000, "shutdown_grace_ms")
    inRange(config.tcpKeepaliveS, 0...32_767, "tcp_keepalive_s")
    inRange(config.idlePollUs, 0...1000, "idle_poll_us")
    check(!config.host.utf8.contains(0), "host contains NUL")
    var v4 = in_addr()
    var v6 = in6_addr()
    let isLiteral = config.host.withCString {
        inet_pton(AF_INET, $0, &v4) == 1 || inet_pton(AF_INET6, $0, &v6) == 1
    }
    check(isLiteral, "host \(config.host.debugDescription) is not an address literal")
}

/// An error's description is one line: no LF, CR or other C0 control, no DEL.
func checkError(_ error: ConfigError) {
    let text = error.description
    check(!text.isEmpty, "empty error description")
    for scalar in text.unicodeScalars where scalar.value < 0x20 || scalar.value == 0x7F {
        fail("error description contains control U+\(String(scalar.value, radix: 16)): \(text.debugDescription)")
    }
}

/// The configuration written back as a file, one `key value` line per key.
func rendered(_ config: BrokerConfig) -> String {
    // In the file syntax an empty value (no auth token) is written as "".
    ConfigKey.all.map { key in
        let value = key.render(config)
        return "\(key.name) \(value.isEmpty ? "\"\"" : value)"
    }.joined(separator: "\n") + "\n"
}

func fuzzFile(_ text: String) {
    let file = "fuzz.conf"
    let config: BrokerConfig
    do {
        config = try ConfigFileParser.parse(text, file: file)
    } catch {
        checkError(error)
        guard case let .badFileEntry(errorFile, line, _, reason) = error else {
            fail("file parser threw \(error)")
        }
        check(errorFile == file, "error names file \(errorFile.debugDescription)")
        let lineCount = text.utf8.reduce(1) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        check(line >= 1 && line <= lineCount, "error line \(line) outside 1...\(lineCount)")
        check(!reason.isEmpty, "empty reason")
        return
    }
    checkRanges(config)
    // Rendered back and parsed again (over a different base), the same configuration.
    var other = BrokerConfig()
    other.port = 1
    other.threads = 3
    other.capacity = 7
    other.logLevel = .error
    do {
        let again = try ConfigFileParser.parse(rendered(config), file: file, base: other)
        check(again == config, "rendered configuration parses differently")
    } catch {
        fail("rendered configuration is refused: \(error)")
    }
}

func fuzzCommandLine(_ arguments: [String]) {
    let noFiles = ConfigFileAccess.inMemory([:])
    let command: LaunchCommand
    do {
        command = try BrokerCommandLine.parse(arguments, files: noFiles)
    } catch {
        checkError(error)
        switch error {
        case .badFlag:
            check(error.exitCode == 64, "bad flag exits \(error.exitCode)")
        case .unreadableFile:
            check(error.exitCode == 78, "unreadable file exits \(error.exitCode)")
        case .badFileEntry:
            fail("bad file entry without files: \(error)")
        case .unusableSetting:
            fail("the command line alone made an unusable setting: \(error)")
        }
        return
    }
    switch command {
    case let .help(text):
        check(text == HelpText.text, "help text differs")
        check(arguments.contains("--help") || arguments.contains("-h"), "help without -h/--help")
    case .version:
        check(arguments.contains("--version") || arguments.contains("-V"), "version without -V/--version")
    case let .run(config, configPath, overridden):
        checkRanges(config)
        check(configPath == nil, "a configuration path without files: \(configPath ?? "")")
        let defaults = BrokerConfig()
        for key in ConfigKey.all where !overridden.contains(key.name) {
            check(key.isSame(in: config, and: defaults), "\(key.name) changed without its flag")
        }
        check(overridden.allSatisfy { ConfigKey.named($0) != nil }, "unknown overridden key")
        // The overridden keys written back as `--flag=value`, parsed again.
        let flags = ConfigKey.all.filter { overridden.contains($0.name) }.map { "\($0.flag)=\($0.render(config))" }
        do {
            let again = try BrokerCommandLine.parse(flags, files: noFiles)
            check(again == command, "rendered flags parse differently")
        } catch {
            fail("rendered flags are refused: \(error)")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    fuzzFile(String(decoding: bytes, as: UTF8.self))
    let arguments = bytes.split(separator: 0, omittingEmptySubsequences: false).map {
        String(decoding: $0, as: UTF8.self)
    }
    fuzzCommandLine(count == 0 ? [] : arguments)
    return 0
}
