// `broker-cli pub <topic> --file PATH` and `pub <topic> --binary`: one message of any bytes, sent with BPUB.
import BrokerClient
import Protocol
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Publishes the file's bytes (or all of stdin) as one message; 0 when the broker accepted it.
func runPubBinary(_ invocation: Invocation, topic: String) -> Int32 {
    let payload: [UInt8]
    switch invocation.file.map(readFile) ?? readAll(fd: STDIN_FILENO, name: "stdin") {
    case let .success(bytes): payload = bytes
    case let .failure(failure):
        diagnose(failure.text)
        return 1
    }
    do {
        let connection = try connect(invocation)
        // Version 2 gives the message's position in the reply; a version 1 broker is fine too.
        do {
            try connection.hello(.v2, timeout: invocation.timeout)
        } catch let .refused(error) where error.code == .unknownCommand {}
        let receipt = try connection.publishBinary(topic: Array(topic.utf8), payload: payload)
        if invocation.verbose {
            let at = receipt.position.map { " at \($0)" } ?? ""
            writeStdout("published to \(receipt.subscribers) \(receipt.subscribers == 1 ? "subscriber" : "subscribers")\(at)\n")
        }
        return 0
    } catch {
        diagnose(describe(error))
        return 1
    }
}

/// A local file or stdin that could not be read.
struct InputFailure: Error {
    /// `cannot read <name>: <system text>`.
    let text: String
}

/// Every byte of the file at `path`.
private func readFile(_ path: String) -> Result<[UInt8], InputFailure> {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return .failure(InputFailure(text: "cannot read \(path): \(errorTextOf(errno))")) }
    defer { close(fd) }
    return readAll(fd: fd, name: path)
}

/// Every byte up to end of file, read in 1 MiB pieces.
private func readAll(fd: Int32, name: String) -> Result<[UInt8], InputFailure> {
    var bytes: [UInt8] = []
    let piece = 1 << 20
    while true {
        let before = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: piece))
        let count = bytes.withUnsafeMutableBytes { raw in
            raw.baseAddress.map { read(fd, $0 + before, piece) } ?? 0
        }
        if count < 0 {
            let code = errno
            bytes.removeSubrange(before...)
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK {
                var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                _ = poll(&entry, 1, -1)
                continue
            }
            return .failure(InputFailure(text: "cannot read \(name): \(errorTextOf(code))"))
        }
        bytes.removeSubrange((before + count)...)
        if count == 0 { return .success(bytes) }
    }
}
