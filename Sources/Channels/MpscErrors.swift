/// Why a bounded or unbounded mpsc `send` did not deliver; carries the value back.
public enum MpscSendError<T: Sendable>: Error, Sendable {
    /// The receiver was closed or deinitialized (or this sender handle was closed).
    case closed(T)
    /// The sending task was cancelled while waiting for room (bounded only).
    case cancelled(T)

    /// The value that was not sent.
    public var value: T {
        switch self {
        case .closed(let v), .cancelled(let v): return v
        }
    }
}

/// Why ``MpscSender/trySend(_:)`` did not deliver; carries the value back.
public enum MpscTrySendError<T: Sendable>: Error, Sendable {
    /// The channel is at capacity right now.
    case full(T)
    /// The receiver was closed or deinitialized (or this sender handle was closed).
    case closed(T)
}

/// Why ``MpscReceiver/tryRecv()`` returned no value.
public enum MpscTryRecvError: Error, Equatable, Sendable {
    /// Nothing buffered right now, but senders remain.
    case empty
    /// Nothing buffered and nothing will ever be: every sender is gone or the
    /// receiver was closed.
    case disconnected
}
