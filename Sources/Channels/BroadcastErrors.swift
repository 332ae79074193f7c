/// Why ``Broadcast/channel(capacity:)`` refused to create a channel.
public enum BroadcastChannelError: Error, Equatable, Sendable {
    /// The capacity was zero, negative, or above ``Broadcast/maxCapacity``.
    case invalidCapacity(Int)
}

/// Why ``BroadcastReceiver/recv()`` returned no value.
public enum BroadcastRecvError: Error, Equatable, Sendable {
    /// The receiver fell behind: this many values it was owed were overwritten.
    /// Its cursor now points at the oldest value still held, which the next
    /// call returns. The receiver stays subscribed.
    case lagged(UInt64)
    /// Every sender is gone and this receiver has read everything still held.
    case closed
    /// The calling task was cancelled while no value was available. Nothing
    /// was consumed; the receiver can be used again. (tokio has no equivalent:
    /// there a cancelled `recv` future is simply dropped.)
    case cancelled
}

/// Why ``BroadcastReceiver/tryRecv()`` returned no value.
public enum BroadcastTryRecvError: Error, Equatable, Sendable {
    /// No value is available right now; the channel is still open.
    case empty
    /// See ``BroadcastRecvError/lagged(_:)``.
    case lagged(UInt64)
    /// Every sender is gone and this receiver has read everything still held.
    case closed
}
