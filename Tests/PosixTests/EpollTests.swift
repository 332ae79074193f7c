// Epoll and the eventfd doorbell: a ring from another thread wakes the wait with the registered token.
import CBrokerShim
import Glibc
import Testing
@testable import Posix

@Suite struct EpollTests {
    @Test func aDoorbellRungFromAnotherThreadWakesTheWaitWithItsToken() async throws {
        let epoll = try Epoll()
        let doorbell = try EventFD()
        try epoll.add(doorbell.fd, events: EpollBits.readable, token: 42)
        let events = UnsafeMutableBufferPointer<epoll_event>.allocate(capacity: 4)
        defer { events.deallocate() }
        #expect(try epoll.wait(into: events, timeoutMs: 0) == 0)
        await Task.detached { doorbell.signal() }.value
        #expect(try epoll.wait(into: events, timeoutMs: 10_000) == 1)
        #expect(events[0].data.u64 == 42)
        doorbell.drain()
        #expect(try epoll.wait(into: events, timeoutMs: 0) == 0)
        epoll.remove(doorbell.fd)
        doorbell.signal()
        #expect(try epoll.wait(into: events, timeoutMs: 0) == 0)
    }
}
