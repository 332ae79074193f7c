// broker-cli's entry point: parse the command line, run the subcommand, exit with its status.
import BrokerClient
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// A closed socket or pipe must be an error value, not a signal that kills the process.
signal(SIGPIPE, SIG_IGN)

let status: Int32
do {
    switch try parseArguments(Array(CommandLine.arguments.dropFirst()), environment: currentEnvironment()) {
    case let .help(topic):
        writeStdout(helpText(topic))
        status = 0
    case .version:
        writeStdout(version + "\n")
        status = 0
    case let .run(invocation):
        status = run(invocation)
    }
} catch {
    writeStderr(error.text)
    status = 64
}
exit(status)
