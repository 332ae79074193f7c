// Broker's public API speaks the system layer's types (SocketAddress, SystemError, SignalWatcher): re-export them.
@_exported import Posix
