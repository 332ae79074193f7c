// What the follower tests feed and read: two epochs, messages and stream entries named by their sequence.
@testable import Broker

let e1 = Array("e1".utf8)
let e2 = Array("e2".utf8)

/// The message of sequence `seq` (payload `m<seq>`).
func message(_ seq: UInt64, _ epoch: [UInt8] = e1) -> ChannelMessage {
    ChannelMessage(epoch: epoch, seq: seq, payload: Array("m\(seq)".utf8))
}

/// The stream's entries of these sequences (payloads `m<seq>`).
func entries(_ seqs: some Sequence<UInt64>) -> [StreamEntry] {
    seqs.map { StreamEntry(seq: $0, payload: Array("m\($0)".utf8)) }
}

/// Outcomes as text: a message by its sequence, a loss as `lost <n>`.
func described(_ outcomes: [StreamFollower.Outcome]) -> [String] {
    outcomes.map {
        switch $0 {
        case let .message(m): "\(m.seq)"
        case let .lost(n): "lost \(n)"
        }
    }
}
