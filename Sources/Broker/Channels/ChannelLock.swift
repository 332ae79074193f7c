// The lock around every channel's shared state (and the registry's and the loops' inboxes).
@_exported import Locks

/// The channels' lock: a value behind a pthread mutex (see ``PthreadLock``).
public typealias ChannelLock<Value: Sendable> = PthreadLock<Value>
