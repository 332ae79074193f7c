// A connection's pending output: reply bytes and shared message frames, in write order.
import CBrokerShim
import Glibc

/// What a connection still has to write, in order: runs of control bytes
/// (replies, `LAGGED`, `BYE`) kept in one byte buffer, and messages, which are
/// not copied — an iovec points at each message's own bytes.
///
/// Loop thread only. The owner bounds it: messages are only added while it is
/// empty (one batch at a time), and control bytes are bounded by pausing input.
struct OutputQueue {
    private enum Segment {
        /// Bytes `start..<end` of `control`.
        case control(start: Int, end: Int)
        /// A whole message frame.
        case message(Message)
    }

    private var segments: [Segment] = []
    /// Index of the first segment not completely written.
    private var head = 0
    /// Bytes of `segments[head]` already written.
    private var headOffset = 0
    /// Backing store of every control segment.
    private var control: [UInt8] = []
    /// Control bytes already written (a prefix of `control`).
    private var controlWritten = 0

    var isEmpty: Bool { head == segments.count }

    /// Segments not yet completely written.
    var pendingSegments: Int { segments.count - head }

    /// Control bytes not yet written (replies the client has not read yet).
    var pendingControlBytes: Int { control.count - controlWritten }

    /// Appends control bytes written by `body` (an encoder call).
    mutating func appendControl(_ body: (inout [UInt8]) -> Void) {
        let start = control.count
        body(&control)
        let end = control.count
        guard end > start else { return }
        if let last = segments.last, segments.count > head, case let .control(lastStart, lastEnd) = last, lastEnd == start {
            segments[segments.count - 1] = .control(start: lastStart, end: end)
        } else {
            segments.append(.control(start: start, end: end))
        }
    }

    /// Appends one message frame (shared, not copied).
    mutating func append(_ message: Message) {
        segments.append(.message(message))
    }

    /// Writes as much as the socket takes with one `writev` of up to `vectors.count` segments.
    /// Returns the bytes written, or `.wouldBlock`.
    mutating func write(to fd: Int32, vectors: UnsafeMutableBufferPointer<iovec>) throws(SystemError) -> IOResult<Int> {
        let result: Result<IOResult<Int>, SystemError> = control.withUnsafeBytes { controlBytes in
            var count = 0
            var index = head
            while index < segments.count && count < vectors.count {
                let skip = index == head ? headOffset : 0
                switch segments[index] {
                case let .control(start, end):
                    vectors[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: controlBytes.baseAddress.map { $0 + start + skip }),
                                           iov_len: end - start - skip)
                case let .message(message):
                    let bytes = message.bytes
                    vectors[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress.map { $0 + skip }),
                                           iov_len: bytes.count - skip)
                }
                count += 1
                index += 1
            }
            return Result { () throws(SystemError) in
                try Socket.writev(fd, UnsafeBufferPointer(rebasing: vectors[0..<count]))
            }
        }
        let outcome = try result.get()
        if case let .done(written) = outcome { consume(written) }
        return outcome
    }

    /// Drops everything not yet written (the connection is closing).
    mutating func removeAll() {
        segments.removeAll()
        head = 0
        headOffset = 0
        control.removeAll()
        controlWritten = 0
    }

    /// Advances past `written` bytes, releasing finished messages.
    private mutating func consume(_ written: Int) {
        var remaining = written
        while remaining > 0 && head < segments.count {
            let length: Int
            switch segments[head] {
            case let .control(start, end): length = end - start
            case let .message(message): length = message.count
            }
            let left = length - headOffset
            if remaining >= left {
                remaining -= left
                if case let .control(_, end) = segments[head] { controlWritten = end }
                segments[head] = .control(start: 0, end: 0)  // release the message now
                head += 1
                headOffset = 0
            } else {
                headOffset += remaining
                if case let .control(start, _) = segments[head] { controlWritten = start + headOffset }
                remaining = 0
            }
        }
        if head == segments.count { reset() }
    }

    /// Empties the queue, keeping small buffers for reuse and giving back large ones.
    private mutating func reset() {
        head = 0
        headOffset = 0
        controlWritten = 0
        if segments.capacity > 4096 { segments = [] } else { segments.removeAll(keepingCapacity: true) }
        if control.capacity > 65_536 { control = [] } else { control.removeAll(keepingCapacity: true) }
    }
}
