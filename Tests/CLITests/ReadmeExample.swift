// The README's "Using the broker from Swift" example, kept here so it always compiles.
import BrokerClient

/// Same code as README.md; compiled with the tests, run by nobody (it needs a broker on 7400).
func readmeExample() async throws {
    let broker = Endpoint(host: "127.0.0.1", port: 7400)

    // Publish one message: the reply says how many subscriptions it was queued for.
    let connection = try BrokerConnection(to: broker, timeout: .seconds(5))
    let receivers = try connection.publish(topic: "orders.eu.created", "{\"id\": 1}")
    _ = receivers

    // Publish many: thousands in flight, replies matched to messages in order.
    var next = 0
    try connection.publishPipelined(topic: Array("numbers".utf8), produce: { batch in
        while next < 100_000 && !batch.isFull {
            batch.append(payload: Array(String(next).utf8))
            next += 1
        }
        return next < 100_000
    }, onReply: { index, reply in
        if case let .refused(error) = reply { print("message \(index): \(error)") }
    })

    // Subscribe: messages, lag reports and the broker's BYE as an AsyncSequence.
    let subscription = try BrokerConnection.subscribe(to: ["orders.>"], at: broker)
    for try await event in subscription {
        switch event {
        case let .message(message): print(message.topic, message.text)
        case let .lagged(topic, count): print("missed \(count) messages on \(topic)")
        case let .positionLost(topic, previous, current): print("\(topic): \(previous) is gone, now at \(current)")
        case let .bye(code, text): print("broker closed: \(code) \(text)")
        }
    }
}
