// `broker-cli pub <topic> <message...>`: one message and its reply.
import BrokerClient
import Protocol

/// Publishes the joined words, or stdin's lines when there are none (or just `-`), or with
/// `--file`/`--binary` one message of any bytes.
func runPub(_ invocation: Invocation) -> Int32 {
    let topic = invocation.arguments[0]
    if invocation.file != nil || invocation.binary { return runPubBinary(invocation, topic: topic) }
    let words = Array(invocation.arguments.dropFirst())
    if words.isEmpty || words == ["-"] { return runPubStdin(invocation, topic: topic) }
    let message = words.joined(separator: " ")
    do {
        let connection = try connect(invocation)
        let receivers = try connection.publish(topic: Array(topic.utf8), payload: Array(message.utf8))
        if invocation.verbose {
            writeStdout("published to \(receivers) \(receivers == 1 ? "subscriber" : "subscribers")\n")
        }
        return 0
    } catch {
        diagnose(describe(error))
        return 1
    }
}
