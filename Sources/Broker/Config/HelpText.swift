/// The `broker-server --help` text.
///
/// Guarantees: generated from `ConfigKey.all`, so it lists every key's flag
/// with its value placeholder, meaning, default and whether it reloads live;
/// it starts with `OVERVIEW:`, then `USAGE:`, then `OPTIONS:`, and ends with a
/// newline.
public enum HelpText {
    public static let text: String = {
        let program = BrokerCommandLine.programName
        var lines: [String] = [
            "OVERVIEW: \(program) - a publish/subscribe message broker daemon.",
            "",
            "USAGE: \(program) [--config PATH] [--<key> VALUE | --<key>=VALUE]...",
            "",
            "OPTIONS:",
            "  \(BrokerCommandLine.configFlag) PATH",
            "      Read settings from PATH. (default: \(BrokerCommandLine.defaultConfigPath) if it exists in the working directory, otherwise built-in defaults)",
        ]
        for key in ConfigKey.all {
            lines.append("  \(key.flag) \(key.valueName)")
            lines.append("      \(key.doc) (default: \(key.defaultDescription); reloads live: \(key.reloadsLive ? "yes" : "no"))")
        }
        lines += [
            "  -h, --help",
            "      Show this help and exit.",
            "  -V, --version",
            "      Show the version and exit.",
            "",
            "Each flag sets the configuration file key of the same name with '_' for '-'",
            "(--max-line-bytes sets max_line_bytes). Flags override the file, also on reload (SIGHUP).",
            "Exit status: 64 for a bad command line, 78 for a bad or unreadable configuration file.",
        ]
        return lines.joined(separator: "\n") + "\n"
    }()
}
