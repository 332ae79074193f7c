// `Mutex` here is the client library's pthread-based lock: ThreadSanitizer cannot see
// `Synchronization.Mutex` on Linux and reports the accesses it guards.
import BrokerClient

typealias Mutex<Value: Sendable> = ClientLock<Value>
