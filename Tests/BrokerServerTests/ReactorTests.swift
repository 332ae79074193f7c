// The reactor alone: registrations with generations, stale events, timers, the doorbell.
import Glibc
import Posix
import Testing
@testable import Broker

@Suite struct ReactorTests {
    /// Counts its events; stops the reactor after `stopAfter` of them.
    final class Recorder: ReactorHandler {
        let reactor: Reactor
        let fd: Int32
        var events = 0
        var stopAfter: Int
        var onEvent: () -> Void = {}
        init(reactor: Reactor, fd: Int32, stopAfter: Int = 1) {
            self.reactor = reactor
            self.fd = fd
            self.stopAfter = stopAfter
        }
        func handleEvents(_ bits: UInt32) {
            events += 1
            var byte: UInt8 = 0
            _ = read(fd, &byte, 1)
            onEvent()
            if events >= stopAfter { reactor.stop() }
        }
    }

    /// A delegate with no work of its own.
    final class Idle: ReactorTurnDelegate {
        var turns = 0
        var hasPendingWork: Bool { false }
        func endOfTurn() { turns += 1 }
    }

    private func socketPair() throws -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds) == 0 else {
            throw ClientError("socketpair failed")
        }
        return (fds[0], fds[1])
    }

    @Test func aReadyDescriptorReachesItsHandlerAndTheTurnEnds() throws {
        let reactor = try Reactor(idlePollMicroseconds: 0)
        let (mine, peer) = try socketPair()
        defer { close(mine); close(peer) }
        let token = reactor.reserveToken()
        let recorder = Recorder(reactor: reactor, fd: mine)
        try reactor.register(mine, events: EpollBits.readable, token: token, handler: recorder)
        var byte: UInt8 = 1
        #expect(write(peer, &byte, 1) == 1)
        let idle = Idle()
        try reactor.run(delegate: idle)
        #expect(recorder.events == 1)
        #expect(idle.turns >= 1)
    }

    @Test func aSlotReusedAfterDeregisterGetsANewGenerationSoOldTokensMiss() throws {
        let reactor = try Reactor(idlePollMicroseconds: 0)
        let (mine, peer) = try socketPair()
        defer { close(mine); close(peer) }
        let first = reactor.reserveToken()
        try reactor.register(mine, events: EpollBits.readable, token: first, handler: Recorder(reactor: reactor, fd: mine))
        reactor.deregister(mine, token: first)
        #expect(reactor.registrationCount == 0)
        let second = reactor.reserveToken()
        #expect(second.slot == first.slot, "the freed slot is reused")
        #expect(second.generation != first.generation, "with a new generation, so a stale event for the old one misses")
        reactor.deregister(mine, token: first)  // a stale deregistration changes nothing
        let recorder = Recorder(reactor: reactor, fd: mine)
        try reactor.register(mine, events: EpollBits.readable, token: second, handler: recorder)
        #expect(reactor.registrationCount == 1)
        var byte: UInt8 = 1
        #expect(write(peer, &byte, 1) == 1)
        try reactor.run(delegate: Idle())
        #expect(recorder.events == 1)
    }

    @Test func anEventForARegistrationEndedEarlierInTheSameBatchIsIgnored() throws {
        let reactor = try Reactor(idlePollMicroseconds: 0)
        let (a, aPeer) = try socketPair()
        let (b, bPeer) = try socketPair()
        defer { close(a); close(aPeer); close(b); close(bPeer) }
        let tokenA = reactor.reserveToken()
        let tokenB = reactor.reserveToken()
        let recorderA = Recorder(reactor: reactor, fd: a, stopAfter: 100)
        let recorderB = Recorder(reactor: reactor, fd: b, stopAfter: 100)
        // Whichever runs first ends the other's registration: the other must not run.
        recorderA.onEvent = { reactor.deregister(b, token: tokenB) }
        recorderB.onEvent = { reactor.deregister(a, token: tokenA) }
        try reactor.register(a, events: EpollBits.readable, token: tokenA, handler: recorderA)
        try reactor.register(b, events: EpollBits.readable, token: tokenB, handler: recorderB)
        var byte: UInt8 = 1
        #expect(write(aPeer, &byte, 1) == 1)
        #expect(write(bPeer, &byte, 1) == 1)
        reactor.addTimer(at: monotonicMilliseconds() + 50) { reactor.stop() }
        try reactor.run(delegate: Idle())
        #expect(recorderA.events + recorderB.events == 1)
    }

    @Test func timersFireInDeadlineOrderAndACancelledOneNever() throws {
        let reactor = try Reactor(idlePollMicroseconds: 0)
        var fired: [String] = []
        let now = monotonicMilliseconds()
        reactor.addTimer(at: now + 30) { fired.append("late") }
        let cancelled = reactor.addTimer(at: now + 10) { fired.append("cancelled") }
        reactor.addTimer(at: now + 20) { fired.append("middle") }
        reactor.addTimer(at: now) { fired.append("now") }
        reactor.addTimer(at: now + 40) { reactor.stop() }
        reactor.cancelTimer(cancelled)
        try reactor.run(delegate: Idle())
        #expect(fired == ["now", "middle", "late"])
    }

    @Test func anotherThreadsWakeRunsTheDoorbellHandlerOnTheLoop() throws {
        let reactor = try Reactor(idlePollMicroseconds: 0)
        let waker = reactor.waker
        var rings = 0
        var onLoop = false
        reactor.onDoorbell = {
            rings += 1
            onLoop = reactor.inLoop
            if rings == 2 { reactor.stop() }  // the first call is the loop's start
        }
        let thread = try spawnThread(name: "waker") { waker.wake() }
        try reactor.run(delegate: Idle())
        _ = pthread_join(thread, nil)
        #expect(rings == 2)
        #expect(onLoop)
        #expect(!reactor.inLoop, "the loop has ended")
    }
}
