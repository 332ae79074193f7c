// Codec benchmark: generated PUB lines through the framer and command parser, in 64 KiB chunks.
//
// Run: swift run -c release codec-bench [--mb 32] [--rounds 5]
import Foundation
import Protocol

struct Options {
    var megabytes = 32
    var rounds = 5

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let flag = iterator.next() {
            switch flag {
            case "--mb": megabytes = iterator.next().flatMap(Int.init) ?? megabytes
            case "--rounds": rounds = iterator.next().flatMap(Int.init) ?? rounds
            default:
                FileHandle.standardError.write(Data("usage: codec-bench [--mb N] [--rounds N]\n".utf8))
                exit(64)
            }
        }
    }
}

/// Distinct PUB lines (topics and payloads vary with the line number) totalling about `bytes`.
func generateStream(payloadSize: Int, bytes target: Int) -> (stream: [UInt8], lines: Int) {
    var stream: [UInt8] = []
    stream.reserveCapacity(target + 512)
    var lines = 0
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    while stream.count < target {
        let topic = Array("orders.eu\(lines % 97).created\(lines % 13)".utf8)
        var payload = [UInt8](repeating: 0, count: payloadSize)
        for index in 0..<payloadSize {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            payload[index] = 0x21 + UInt8(truncatingIfNeeded: state >> 33) % 94
        }
        WireEncoder.appendPub(topic: topic, payload: payload, to: &stream)
        lines += 1
    }
    return (stream, lines)
}

struct Outcome {
    var lines = 0
    var errors = 0
    var checksum: UInt64 = 0
}

/// Frames and parses the whole stream in chunks of `chunkSize`, the way a connection reads.
func run(_ stream: [UInt8], chunkSize: Int) -> Outcome {
    var framer = LineFramer(maxLineBytes: 65_536)
    var outcome = Outcome()
    stream.withUnsafeBytes { all in
        var offset = 0
        while offset < all.count {
            let end = min(offset + chunkSize, all.count)
            framer.feed(UnsafeRawBufferPointer(rebasing: all[offset..<end])) { event in
                guard case let .line(line) = event else { outcome.errors += 1; return .proceed }
                do throws(ProtocolError) {
                    if case let .publish(topic, payload) = try CommandParser.parse(line) {
                        outcome.lines += 1
                        // Touch what a broker would use: topic length, first and last payload byte.
                        outcome.checksum = outcome.checksum &* 31 &+ UInt64(topic.count)
                            &+ UInt64(payload.first ?? 0) &+ UInt64(payload.last ?? 0) &* 7
                    }
                } catch {
                    outcome.errors += 1
                }
                return .proceed
            }
            offset = end
        }
    }
    return outcome
}

let options = Options(CommandLine.arguments)
print("codec-bench: \(options.megabytes) MB of distinct PUB lines per payload size, 64 KiB chunks, best and median of \(options.rounds) rounds")
for payloadSize in [16, 256] {
    let (stream, lines) = generateStream(payloadSize: payloadSize, bytes: options.megabytes << 20)
    var seconds: [Double] = []
    var outcome = Outcome()
    for _ in 0..<max(1, options.rounds) {
        let start = DispatchTime.now().uptimeNanoseconds
        outcome = run(stream, chunkSize: 65_536)
        seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    seconds.sort()
    let best = seconds[0]
    let median = seconds[seconds.count / 2]
    let mb = Double(stream.count) / 1_048_576
    print(String(format: "result payload=%d lines=%d parsed=%d errors=%d checksum=%016llx lines_per_s=%.2fM (median %.2fM) mb_per_s=%.0f (median %.0f)",
                 payloadSize, lines, outcome.lines, outcome.errors, outcome.checksum,
                 Double(outcome.lines) / best / 1e6, Double(outcome.lines) / median / 1e6, mb / best, mb / median))
    if outcome.lines != lines || outcome.errors != 0 {
        print("codec-bench: parsed \(outcome.lines) of \(lines) lines with \(outcome.errors) errors")
        exit(1)
    }
}
