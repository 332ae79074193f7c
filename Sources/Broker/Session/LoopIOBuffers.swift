// Scratch memory the transports of one loop share for reads and writes.
import Glibc
import Protocol
import TLS

/// Scratch memory every session of a loop shares for its transport's reads and writes.
/// Loop thread only.
final class LoopIOBuffers {
    /// Where reads land before framing.
    let read = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
    /// iovecs of one send.
    let vectors = UnsafeMutableBufferPointer<iovec>.allocate(capacity: 1024)
    /// Scratch into which a write gathers small pieces (see ``OutputQueue``).
    let staging = UnsafeMutableRawBufferPointer.allocate(byteCount: 128 * 1024, alignment: 16)
    /// Scratch lent to the output queue being filled: the frames of one delivery batch
    /// (``DeliveryScheduler/batchFrameBytes``, and one cursor's read of up to
    /// ``DeliveryScheduler/readBatchSize`` frames of ``OutputQueue/stageLimit`` bytes past it,
    /// each with a WebSocket header for a WebSocket session).
    let frames = UnsafeMutableRawBufferPointer.allocate(
        byteCount: DeliveryScheduler.batchFrameBytes
            + DeliveryScheduler.readBatchSize * (OutputQueue.stageLimit + WebSocketFrameEncoder.maxHeaderBytes),
        alignment: 16)

    /// Where a TLS write gathers small pieces into one record (``TLSConnection/recordBytes``).
    let tlsRecord = UnsafeMutableRawBufferPointer.allocate(byteCount: TLSConnection.recordBytes, alignment: 16)

    init() { vectors.initialize(repeating: iovec()) }

    deinit {
        read.deallocate()
        vectors.deallocate()
        staging.deallocate()
        frames.deallocate()
        tlsRecord.deallocate()
    }
}
