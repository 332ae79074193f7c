// Reading, flushing and closing connections on their event loop.
import Channels
import CBrokerShim
import Glibc
import Protocol

extension EventLoop {
    /// Unread replies above which a connection's input is paused (TCP backpressure).
    static let replyHighWater = 256 * 1024
    /// Segments gathered into one flush batch before writing.
    static let batchSegments = 4096
    /// Messages taken from one ring per read.
    static let readBatchSize = 256
    /// Reads per readable event before giving other connections a turn.
    static let readsPerTurn = 4

    func handle(event: UInt32, token: UInt64) {
        guard let connection = connections[token], !connection.isClosed else { return }  // stale event
        if event & (EpollBits.readable | EpollBits.hangup | EpollBits.error | EpollBits.readHangup) != 0 {
            if !connection.inputPaused && !connection.readClosed { read(connection) }
            else if event & (EpollBits.hangup | EpollBits.error) != 0 && connection.readClosed {
                close(connection, reason: .peerReset)
                return
            }
        }
        if event & EpollBits.writable != 0, !connection.isClosed { markDirty(connection) }
    }

    // MARK: Reading

    private func read(_ connection: Connection) {
        for _ in 0..<EventLoop.readsPerTurn {
            let outcome: IOResult<Int>
            do {
                outcome = try Socket.read(connection.fd, into: readBuffer)
            } catch {
                let reason: CloseReason = error.errno == ECONNRESET ? .peerReset : .readError(error)
                close(connection, reason: reason)
                return
            }
            guard case let .done(count) = outcome else { return }
            if count == 0 {
                peerClosed(connection)
                return
            }
            context.stats.bytesIn.add(UInt64(count))
            let decision = connection.framer.feed(UnsafeRawBufferPointer(rebasing: readBuffer[0..<count])) { event in
                execute(event, on: connection)
            }
            notePartialLine(connection)
            if connection.isClosed { return }
            if decision == .pause {
                pauseInput(connection)
                return
            }
            if count < readBuffer.count { break }
        }
    }

    /// Executes one framed line; pauses the framer when replies back up or after QUIT.
    private func execute(_ event: FramerEvent, on connection: Connection) -> FramerDecision {
        if connection.closeAfterFlush { return .pause }  // QUIT: nothing after it runs
        connection.completedLine = true
        switch event {
        case let .line(line):
            run(line, on: connection)
        case .lineTooLong:
            connection.output.appendControl { WireEncoder.appendErr(ProtocolError(.lineTooLong, "line is longer than \(settings.maxLineBytes) bytes"), to: &$0) }
            markDirty(connection)
        }
        if connection.closeAfterFlush || connection.output.pendingControlBytes >= EventLoop.replyHighWater { return .pause }
        return .proceed
    }

    /// Tracks whether an incomplete line is held, for the idle timeout.
    private func notePartialLine(_ connection: Connection) {
        let lineCompleted = connection.completedLine
        connection.completedLine = false
        if connection.framer.hasPartialLine && !connection.framer.isPaused {
            // A line completed in this read means the incomplete one began in it too.
            if connection.partialSinceMs == nil || lineCompleted {
                connection.partialSinceMs = monotonicMilliseconds()
                partialLines[connection.token] = connection
            }
        } else if connection.partialSinceMs != nil {
            connection.partialSinceMs = nil
            partialLines[connection.token] = nil
        }
    }

    private func pauseInput(_ connection: Connection) {
        connection.inputPaused = true
        updateInterest(connection)
    }

    /// Goes on with input kept at a pause once replies have drained.
    private func resumeInput(_ connection: Connection) {
        guard connection.inputPaused, !connection.closeAfterFlush else { return }
        connection.inputPaused = false
        let decision = connection.framer.resume { event in execute(event, on: connection) }
        notePartialLine(connection)
        if connection.isClosed { return }
        if decision == .pause {
            connection.inputPaused = true
        } else if connection.readClosed {
            finishAfterEOF(connection)
            return
        }
        updateInterest(connection)
    }

    /// EOF: run the complete lines already received, write their replies, then close.
    private func peerClosed(_ connection: Connection) {
        connection.readClosed = true
        if connection.framer.isPaused { return }  // resumes after the replies drain
        finishAfterEOF(connection)
    }

    private func finishAfterEOF(_ connection: Connection) {
        connection.framer.reset()
        notePartialLine(connection)
        dropSubscriptions(connection)
        if !connection.closeAfterFlush {
            connection.closeAfterFlush = true
            connection.pendingCloseReason = .peerClosed
        }
        updateInterest(connection)
        markDirty(connection)
    }

    // MARK: Writing

    /// Writes pending replies and messages until the socket is full or nothing is left.
    func flush(_ connection: Connection) {
        var budget = 4 << 20  // bytes per connection per turn, for fairness
        while true {
            if connection.output.isEmpty && !connection.closeAfterFlush { gather(connection) }
            if connection.output.isEmpty { break }
            let outcome: IOResult<Int>
            do {
                outcome = try connection.output.write(to: connection.fd, vectors: vectors, staging: staging)
            } catch {
                let reason: CloseReason = (error.errno == EPIPE || error.errno == ECONNRESET) ? .peerReset : .writeError(error)
                close(connection, reason: reason)
                return
            }
            guard case let .done(written) = outcome else { break }  // socket full: wait for EPOLLOUT
            context.stats.bytesOut.add(UInt64(written))
            budget -= written
            if !connection.output.isEmpty { break }  // partial write: the socket is full
            if budget <= 0 {
                if !connection.ready.isEmpty { markDirty(connection) }
                break
            }
        }
        if connection.output.isEmpty {
            if connection.closeAfterFlush {
                close(connection, reason: connection.pendingCloseReason)
                return
            }
            if connection.inputPaused && connection.output.pendingControlBytes < EventLoop.replyHighWater / 2 {
                resumeInput(connection)
                if connection.isClosed { return }
                if !connection.output.isEmpty { markDirty(connection) }
            }
        }
        updateInterest(connection)
    }

    /// Fills the empty output queue with one batch from the ready cursors, round-robin.
    private func gather(_ connection: Connection) {
        var index = 0
        while index < connection.ready.count && connection.output.pendingSegments < EventLoop.batchSegments {
            let cursor = connection.ready[index]
            guard let receiver = cursor.receiver else {
                cursor.isQueued = false
                connection.ready.remove(at: index)
                continue
            }
            let room = min(EventLoop.readBatchSize, EventLoop.batchSegments - connection.output.pendingSegments)
            // One lock: read what is there into exactly as many slots, and when that
            // drains the cursor, arm its wake-up in the same step (nothing can slip in
            // between, so a drained cursor always leaves the ready list armed).
            let result = receiver.readBatch(upTo: room, armingWhenDrained: cursor) { count in
                connection.output.reserveMessages(count)
            }
            connection.output.commitMessages(result.count)
            if result.lagged > 0 {
                reportLag(cursor, missed: result.lagged, connection: connection)
                continue  // the messages follow on the next read of the same cursor
            }
            turnDelivered &+= UInt64(result.count)
            if result.armed {
                cursor.isQueued = false
                connection.ready.remove(at: index)
                continue
            }
            if result.closed {  // a sweep freed this topic: the subscription goes on without it
                context.registry.forget(cursor)
                cursor.isQueued = false
                connection.ready.remove(at: index)
                continue
            }
            index += 1  // a full batch: more may be waiting, after the other cursors' turn
        }
        if connection.ready.count > 1 && index > 0 && index < connection.ready.count {
            // Fairness: the next batch starts after the last cursor served. Rotated in place
            // by three reversals: no new array on the delivery path.
            connection.ready[..<index].reverse()
            connection.ready[index...].reverse()
            connection.ready.reverse()
        }
    }

    private func reportLag(_ cursor: Cursor, missed: UInt64, connection: Connection) {
        let topic = cursor.topic.name
        connection.output.appendControl { WireEncoder.appendLagged(topic: topic, count: missed, to: &$0) }
        context.stats.laggedEvents.add(1)
        context.stats.laggedMessages.add(missed)
        cursor.lagSinceLog &+= missed
        if topic.first != 0x24 {  // lags on the broker's own topics are not announced (no feedback loop)
            publishSystemEvent(SystemTopics.lagged,
                               "topic=\(String(decoding: topic, as: UTF8.self)) client=\(connection.id) addr=\(connection.peer) missed=\(missed)")
        }
        let now = monotonicMilliseconds()
        if now - cursor.lagLoggedAtMs >= 1000 {
            context.logger.warn("subscription lagging on \(String(decoding: topic, as: UTF8.self)): \(cursor.lagSinceLog) messages missed",
                                connection: connection.id, peer: connection.peer)
            cursor.lagSinceLog = 0
            cursor.lagLoggedAtMs = now
        }
    }

    /// Watches the socket for exactly what the connection needs now.
    func updateInterest(_ connection: Connection) {
        guard !connection.isClosed else { return }
        var wanted: UInt32 = 0
        if !connection.inputPaused && !connection.readClosed && !connection.closeAfterFlush {
            wanted |= EpollBits.readable | EpollBits.readHangup
        }
        if !connection.output.isEmpty { wanted |= EpollBits.writable }
        guard wanted != connection.interest else { return }
        do {
            try epoll.modify(connection.fd, events: wanted, token: connection.token)
            connection.interest = wanted
        } catch {
            close(connection, reason: .writeError(error))
        }
    }

    // MARK: Closing

    /// Writes `BYE` and closes once it is written (or at the shutdown deadline).
    func sayGoodbye(_ connection: Connection, code: ErrorCode, text: String, reason: CloseReason) {
        guard !connection.isClosed, !connection.closeAfterFlush || reason == .shutdown else { return }
        dropSubscriptions(connection)
        // The framer is not reset here: this may run inside its own callback. Input
        // stops (closeAfterFlush pauses it) and `close` frees what it holds.
        connection.closeAfterFlush = true
        connection.pendingCloseReason = reason
        connection.output.appendControl { WireEncoder.appendBye(code, text, to: &$0) }
        updateInterest(connection)
        markDirty(connection)
    }

    /// Ends every subscription of the connection (its cursors stop at once).
    func dropSubscriptions(_ connection: Connection) {
        for subscription in connection.subscriptions.values {
            context.registry.unsubscribe(subscription)
        }
        if !connection.subscriptions.isEmpty {
            context.stats.subscriptions.subtract(UInt64(connection.subscriptions.count))
        }
        connection.subscriptions.removeAll()
        for cursor in connection.ready { cursor.isQueued = false }
        connection.ready.removeAll()
        connection.publishCache = nil
    }

    func close(_ connection: Connection, reason: CloseReason) {
        guard !connection.isClosed else { return }
        connection.isClosed = true
        dropSubscriptions(connection)
        connection.output.removeAll()
        connection.framer.reset()
        epoll.remove(connection.fd)
        Socket.close(connection.fd)
        connections[connection.token] = nil
        partialLines[connection.token] = nil
        context.connectionCount.wrappingSubtract(1, ordering: .relaxed)
        context.logger.info("connection closed: \(reason)", connection: connection.id, peer: connection.peer)
    }

    func closeAll(reason: CloseReason) {
        for connection in Array(connections.values) { close(connection, reason: reason) }
        if let listener {
            epoll.remove(listener)
            Socket.close(listener)
            self.listener = nil
        }
    }
}

extension CloseReason: Equatable {
    static func == (lhs: CloseReason, rhs: CloseReason) -> Bool {
        lhs.description == rhs.description
    }
}
