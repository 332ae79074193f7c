// The opening handshake decided from a request head: RFC 6455 4.2.1's example, and each way to refuse.
import Testing
@testable import Broker

private func head(_ lines: [String], request: String = "GET /ws HTTP/1.1") -> HTTPRequestHead? {
    var reader = HTTPRequestReader()
    let text = ([request, "Host: broker.example"] + lines).joined(separator: "\r\n") + "\r\n\r\n"
    if case let .complete(head) = reader.feed(Array(text.utf8)) { return head }
    return nil
}

private let example = ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                       "Sec-WebSocket-Version: 13"]

@Suite struct WebSocketUpgradeTests {
    @Test func theRFCsExampleIsAccepted() throws {
        let request = try #require(head(example))
        #expect(request.upgrade == HTTPUpgradeFields(upgrade: "websocket", connection: "Upgrade",
                                                     webSocketKey: "dGhlIHNhbXBsZSBub25jZQ==", webSocketVersion: "13"))
        #expect(WebSocketUpgrade.decide(request) == .accept(key: "dGhlIHNhbXBsZSBub25jZQ=="))
    }

    @Test func tokensAreFoundInListsWithoutCaseAndFieldsSentTwiceAreJoined() throws {
        let request = try #require(head(["upgrade: WebSocket", "connection: keep-alive, Upgrade",
                                         "Sec-WebSocket-Key:   dGhlIHNhbXBsZSBub25jZQ==  ", "Sec-WebSocket-Version: 13"]))
        #expect(WebSocketUpgrade.decide(request) == .accept(key: "dGhlIHNhbXBsZSBub25jZQ=="))
        let twice = try #require(head(["Upgrade: h2c", "Upgrade: websocket", "Connection: Upgrade",
                                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]))
        #expect(twice.upgrade.upgrade == "h2c, websocket")
        #expect(WebSocketUpgrade.decide(twice) == .accept(key: "dGhlIHNhbXBsZSBub25jZQ=="))
    }

    @Test func eachMissingOrWrongPieceIsRefusedWithItsStatus() throws {
        func without(_ prefix: String) -> [String] { example.filter { !$0.hasPrefix(prefix) } }
        func replacing(_ prefix: String, with line: String) -> [String] { without(prefix) + [line] }
        let cases: [([String], String, HTTPStatus)] = [
            (without("Upgrade:"), "GET /ws HTTP/1.1", .upgradeRequired),
            (replacing("Upgrade:", with: "Upgrade: h2c"), "GET /ws HTTP/1.1", .upgradeRequired),
            (without("Connection:"), "GET /ws HTTP/1.1", .badRequest),
            (replacing("Sec-WebSocket-Version:", with: "Sec-WebSocket-Version: 8"), "GET /ws HTTP/1.1", .upgradeRequired),
            (without("Sec-WebSocket-Version:"), "GET /ws HTTP/1.1", .upgradeRequired),
            (without("Sec-WebSocket-Key:"), "GET /ws HTTP/1.1", .badRequest),
            (replacing("Sec-WebSocket-Key:", with: "Sec-WebSocket-Key: aGVsbG8="), "GET /ws HTTP/1.1", .badRequest),
            (example, "POST /ws HTTP/1.1", .methodNotAllowed),
        ]
        for (lines, requestLine, status) in cases {
            let request = try #require(head(lines, request: requestLine))
            guard case let .refuse(got, _) = WebSocketUpgrade.decide(request) else {
                Issue.record("accepted: \(lines) \(requestLine)")
                continue
            }
            #expect(got == status, "\(lines) \(requestLine)")
        }
        // HTTP/1.0 (no Host needed by the reader) is refused too.
        var reader = HTTPRequestReader()
        guard case let .complete(old) = reader.feed(Array(("GET /ws HTTP/1.0\r\n" + example.joined(separator: "\r\n") + "\r\n\r\n").utf8)) else {
            Issue.record("not read")
            return
        }
        #expect(WebSocketUpgrade.decide(old) == .refuse(.badRequest, "a WebSocket handshake needs HTTP/1.1"))
    }
}
