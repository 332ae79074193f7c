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

    @Test func theRawFdAPIClosesWhatItIsGiven() throws {
        let listener = try Socket.listen(on: #require(SocketAddress(host: "127.0.0.1", port: 0)), backlog: 8)
        #expect(try Socket.localAddress(listener).port != 0)
        guard case .wouldBlock = try Socket.accept(listener) else {
            Issue.record("a connection nobody made")
            return
        }
        Socket.close(listener)
        // Closed, or reused by another test's thread for a different file: not a listener any more.
        // (Raw getsockopt: through the funnel, a closed descriptor would trap.)
        var accepting: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        let status = getsockopt(listener, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length)
        #expect(status == -1 || accepting == 0)
    }
}
