// The client library's lock: the package's pthread-based one.
@_exported import Locks

/// A value behind a pthread mutex (see ``PthreadLock``), for the client library and the CLI.
public typealias ClientLock<Value: Sendable> = PthreadLock<Value>
