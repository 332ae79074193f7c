// Tests use the broker's pthread-based lock under the name `Mutex`: ThreadSanitizer
// cannot see `Synchronization.Mutex` on Linux and reports the accesses it guards.
import Broker

typealias Mutex<Value: Sendable> = ChannelLock<Value>
