// A blocking WebSocket client for the tests: the opening handshake, masked (or deliberately bad) frames, server frames read whole.
import Foundation
import Glibc
import Protocol
import TLS

/// One frame from the server.
struct ServerWebSocketFrame: Equatable {
    var fin: Bool
    var opcode: UInt8
    var payload: [UInt8]

    var text: String { String(decoding: payload, as: UTF8.self) }
    /// The close code of a close frame.
    var closeCode: UInt16? { opcode == 0x8 && payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil }
}

/// A WebSocket connection to the broker's HTTP port, as a browser would open it.
final class WebSocketTestClient {
    let socket: TestClient
    /// The server's response head, line by line.
    private(set) var responseHead: [String] = []

    /// Connects (through TLS with `tls`: `wss://`) and sends the handshake for `path`;
    /// `expectUpgrade`: fail unless 101.
    init(port: Int, path: String = "/ws", headers: [String]? = nil, expectUpgrade: Bool = true,
         receiveBuffer: Int32? = nil, tls: TLSContext? = nil) throws {
        socket = try TestClient(port: port, receiveBuffer: receiveBuffer)
        if let tls { try socket.startTLS(tls) }
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let fields = headers ?? ["Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: \(key)",
                                 "Sec-WebSocket-Version: 13"]
        try socket.sendRaw("GET \(path) HTTP/1.1\r\n" + fields.map { $0 + "\r\n" }.joined() + "\r\n")
        while let line = try socket.readLine() {
            let field = line.hasSuffix("\r") ? String(line.dropLast()) : line
            if field.isEmpty { break }
            responseHead.append(field)
        }
        if expectUpgrade {
            guard responseHead.first == "HTTP/1.1 101 Switching Protocols" else { throw ClientError("no upgrade: \(responseHead)") }
            let accept = WebSocketHandshake.acceptKey(for: key)
            guard responseHead.contains("Sec-WebSocket-Accept: \(accept)") else { throw ClientError("wrong accept: \(responseHead)") }
        }
    }

    /// The status code of the response.
    var status: Int? { responseHead.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } }

    /// Sends one frame (masked unless `masked` is false).
    func sendFrame(_ payload: [UInt8], opcode: UInt8 = 0x1, fin: Bool = true, masked: Bool = true) throws {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        let mask: UInt8 = masked ? 0x80 : 0
        if payload.count < 126 {
            frame.append(mask | UInt8(payload.count))
        } else if payload.count < 65536 {
            frame += [mask | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(mask | 127)
            for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8((payload.count >> shift) & 0xFF)) }
        }
        if masked {
            let key = (0..<4).map { _ in UInt8.random(in: 0...255) }
            frame += key
            frame += payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
        } else {
            frame += payload
        }
        try socket.sendBytes(frame)
    }

    /// Sends `text` as one text message.
    func send(_ text: String) throws { try sendFrame(Array(text.utf8)) }

    /// The next frame, or nil at end of file.
    func frame() throws -> ServerWebSocketFrame? {
        guard let head = try socket.readBytes(2) else { return nil }
        if head[1] & 0x80 != 0 { throw ClientError("the server masked a frame") }
        var length = Int(head[1] & 0x7F)
        if length == 126 {
            guard let extended = try socket.readBytes(2) else { return nil }
            length = Int(extended[0]) << 8 | Int(extended[1])
        } else if length == 127 {
            guard let extended = try socket.readBytes(8) else { return nil }
            length = extended.reduce(0) { $0 << 8 | Int($1) }
        }
        guard let payload = try socket.readBytes(length) else { return nil }
        return ServerWebSocketFrame(fin: head[0] & 0x80 != 0, opcode: head[0] & 0x0F, payload: payload)
    }

    /// The next data message's text (a frame that is not a final text or binary frame fails).
    func message() throws -> String {
        guard let frame = try frame() else { throw ClientError("end of file instead of a message") }
        guard frame.fin, frame.opcode == 0x1 || frame.opcode == 0x2 else { throw ClientError("not a data message: \(frame)") }
        return frame.text
    }

    /// Sends `PING <token>` and returns the messages before its `PONG`.
    func untilPong(_ token: String = "sync") throws -> [String] {
        try send("PING \(token)\n")
        var messages: [String] = []
        while true {
            let message = try message()
            if message == "PONG \(token)\n" { return messages }
            messages.append(message)
        }
    }
}
