import Testing
@testable import Broker

@Suite struct HelpTextTests {
    @Test func firstLinesArePinned() {
        let lines = HelpText.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(Array(lines.prefix(11)) == [
            "OVERVIEW: broker-server - a publish/subscribe message broker daemon.",
            "",
            "USAGE: broker-server [--config PATH] [--<key> VALUE | --<key>=VALUE]...",
            "",
            "OPTIONS:",
            "  --config PATH",
            "      Read settings from PATH. (default: conf/broker.conf if it exists in the working directory, otherwise built-in defaults)",
            "  --host ADDRESS",
            "      IPv4 or IPv6 address literal to listen on, e.g. 127.0.0.1, 0.0.0.0 or ::1. (default: 127.0.0.1; reloads live: no)",
            "  --port PORT",
            "      TCP port to listen on, 0 to 65535; 0 picks a free port. (default: 7400; reloads live: no)",
        ])
        #expect(HelpText.text.hasSuffix("\n"))
    }

    @Test func listsEveryKeyWithDefaultAndReload() {
        let lines = HelpText.text.split(separator: "\n").map(String.init)
        for key in ConfigKey.all {
            let index = lines.firstIndex(of: "  \(key.flag) \(key.valueName)")
            #expect(index != nil, "help lacks \(key.flag)")
            if let index {
                let description = lines[index + 1]
                #expect(description.contains("(default: \(key.defaultDescription); reloads live: \(key.reloadsLive ? "yes" : "no"))"))
            }
        }
        #expect(lines.contains("  -h, --help"))
        #expect(lines.contains("  -V, --version"))
        #expect(HelpText.text.contains("64"))
        #expect(HelpText.text.contains("78"))
    }
}
