// Subscribing as an AsyncSequence: a reader thread per subscription, bounded so the broker sees backpressure.
import Dispatch
import Foundation
import Protocol

/// The events of one subscribing connection, as an `AsyncSequence`.
///
/// Made by ``BrokerConnection/subscribe(to:at:timeout:buffer:)``: the connection is
/// made and every `SUB` answered before it returns, so nothing published after that
/// is missed. A dedicated thread reads the socket; at most `buffer` events wait
/// unconsumed, after which the thread stops reading and the broker, not this process,
/// holds (and, for a slow consumer, drops and reports with ``BrokerEvent/lagged(topic:count:)``)
/// further messages.
///
/// The sequence ends (returns nil) after a ``BrokerEvent/bye(code:text:)`` or when the
/// broker closes the connection; it throws ``BrokerClientError`` on a failure. Iterate it
/// from one task. Dropping the iterator, or calling ``cancel()``, closes the connection.
///
/// ```swift
/// let subscription = try BrokerConnection.subscribe(to: ["orders.>"], at: .default)
/// for try await event in subscription {
///     if case let .message(message) = event { print(message.topic, message.text) }
/// }
/// ```
public struct Subscription: AsyncSequence, Sendable {
    public typealias Element = BrokerEvent

    /// Events from the reader thread.
    let stream: AsyncThrowingStream<BrokerEvent, any Error>
    /// One credit per event the reader may deliver before it waits for the consumer.
    let credits: DispatchSemaphore
    /// Stops the reader thread.
    let canceller: BrokerConnection.Canceller

    /// Closes the connection; the sequence then ends.
    public func cancel() {
        canceller.cancel()
        credits.signal()
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(inner: stream.makeAsyncIterator(), credits: credits)
    }

    /// Iterates the events; returns a credit to the reader thread for each one taken.
    public struct Iterator: AsyncIteratorProtocol {
        var inner: AsyncThrowingStream<BrokerEvent, any Error>.AsyncIterator
        let credits: DispatchSemaphore

        public mutating func next() async throws -> BrokerEvent? {
            let event = try await inner.next()
            if event != nil { credits.signal() }
            return event
        }
    }
}

/// Moves the connection to the reader thread; nothing else touches it afterwards.
private final class Handoff: @unchecked Sendable {
    let connection: BrokerConnection
    init(_ connection: BrokerConnection) { self.connection = connection }
}

extension BrokerConnection {
    /// Connects (authenticating with `token` when given, in `version`), subscribes to
    /// every pattern (each `SUB` answered), and returns the events. In version 2 the
    /// messages carry their sequences and every frame is checked (see ``BrokerConnection``).
    public static func subscribe(
        to patterns: [String], at endpoint: Endpoint, timeout: Duration = .seconds(5), token: String? = nil, user: String? = nil,
        buffer: Int = 1024, version: ProtocolVersion = .v1
    ) throws(BrokerClientError) -> Subscription {
        let connection = try BrokerConnection(to: endpoint, timeout: timeout, token: token, user: user, version: version)
        for pattern in patterns { try connection.subscribe(pattern) }
        let canceller = connection.canceller
        let credits = DispatchSemaphore(value: max(1, buffer))
        let (stream, continuation) = AsyncThrowingStream<BrokerEvent, any Error>.makeStream()
        continuation.onTermination = { _ in
            canceller.cancel()
            credits.signal()
        }
        let handoff = Handoff(connection)
        let thread = Thread {
            let connection = handoff.connection
            do {
                while true {
                    credits.wait()
                    guard let event = try connection.nextEvent() else { break }
                    continuation.yield(event)
                    if case .bye = event { break }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        thread.name = "broker-subscription"
        thread.start()
        return Subscription(stream: stream, credits: credits, canceller: canceller)
    }
}
