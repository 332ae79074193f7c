// Which version of the line protocol a connection speaks (PROTOCOL.md and its "Version 2").

/// The protocol version a ``BrokerConnection`` speaks.
///
/// A connection starts in version 1; with ``v2`` it sends `HELLO 2` right after
/// connecting (and after `AUTH`, when it has a token). Version 2 gives every message
/// its sequence (``Message/seq``), checks every frame against the sequence rule,
/// and lets a new connection resume where an earlier one stopped
/// (``BrokerConnection/resume(_:)``). A value type: any thread.
public enum ProtocolVersion: Int, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// Lines only: `MSG <topic> <payload>`, `OK <n>`.
    case v1 = 1
    /// Sized frames with positions: `MSG <topic> <seq> <size>`, `OK <n> <epoch>:<seq>`, SUB options.
    case v2 = 2

    public var description: String { String(rawValue) }
}
