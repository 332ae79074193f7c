// The metrics endpoint's HTTP request reader and routing, fed bytes by hand: no sockets.
import Testing
@testable import Broker

private func read(_ text: String, maxHeadBytes: Int = 8192) -> HTTPReadResult {
    var reader = HTTPRequestReader(maxHeadBytes: maxHeadBytes)
    return reader.feed(Array(text.utf8))
}

private func head(_ method: String, _ path: String, _ version: String = "HTTP/1.1") -> HTTPReadResult {
    .complete(HTTPRequestHead(method: method, path: path, version: version))
}

@Suite struct HTTPRequestReaderTests {
    let scrape = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9400\r\nUser-Agent: Prometheus/2.53\r\nAccept: text/plain\r\n\r\n"

    @Test func aRequestSplitAtEveryPositionReadsTheSame() {
        let bytes = Array(scrape.utf8)
        for split in 0...bytes.count {
            var reader = HTTPRequestReader()
            let first = reader.feed(bytes[..<split])
            if split < bytes.count {
                #expect(first == .needMore, "split at \(split)")
                #expect(reader.feed(bytes[split...]) == head("GET", "/metrics"), "split at \(split)")
            } else {
                #expect(first == head("GET", "/metrics"))
            }
        }
    }

    @Test func aRequestFedOneByteAtATimeCompletesOnItsLastByte() {
        var reader = HTTPRequestReader()
        let bytes = Array(scrape.utf8)
        for byte in bytes.dropLast() { #expect(reader.feed([byte]) == .needMore) }
        #expect(reader.feed([bytes[bytes.count - 1]]) == head("GET", "/metrics"))
    }

    @Test func theResultStaysOnceGivenAndBytesAfterTheHeadAreNotRead() {
        var reader = HTTPRequestReader()
        #expect(reader.feed(Array("GET /healthz HTTP/1.0\r\n\r\nbody bytes".utf8)) == head("GET", "/healthz", "HTTP/1.0"))
        #expect(reader.feed(Array("more".utf8)) == head("GET", "/healthz", "HTTP/1.0"))
    }

    @Test func theQueryIsNotPartOfThePath() {
        var expected = HTTPRequestHead(method: "GET", path: "/metrics", version: "HTTP/1.0")
        expected.query = "x=1&y"
        #expect(read("GET /metrics?x=1&y HTTP/1.0\r\n\r\n") == .complete(expected))
        #expect(read("GET /metrics? HTTP/1.0\r\n\r\n") == head("GET", "/metrics", "HTTP/1.0"))
    }

    @Test func bytesAfterTheHeadInTheSameChunkAreKept() {
        var reader = HTTPRequestReader()
        _ = reader.feed(Array("GET /ws HTTP/1.0\r\n\r\n\u{81}\u{80}abcd".utf8))
        #expect(reader.leftover == Array("\u{81}\u{80}abcd".utf8))
    }

    @Test func http11NeedsExactlyOneHostButHttp10DoesNot() {
        #expect(read("GET / HTTP/1.0\r\n\r\n") == head("GET", "/", "HTTP/1.0"))
        #expect(read("GET / HTTP/1.1\r\nhost: a\r\n\r\n") == head("GET", "/"))
        #expect(isMalformed(read("GET / HTTP/1.1\r\n\r\n")))
        #expect(isMalformed(read("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")))
    }

    @Test func malformedHeadsAreRefused() {
        let bad = [
            "garbage\r\n\r\n",
            "GET /metrics\r\n\r\n",                              // no version
            "GET  /metrics HTTP/1.1\r\nHost: a\r\n\r\n",         // two spaces
            "GET /metrics HTTP/1.1 \r\nHost: a\r\n\r\n",         // trailing space
            "GET metrics HTTP/1.0\r\n\r\n",                      // not an absolute path
            "GET http://a/metrics HTTP/1.0\r\n\r\n",             // absolute-form is not served
            "GET /metrics HTTP/2.0\r\n\r\n",
            "GET /metrics http/1.1\r\nHost: a\r\n\r\n",
            "G(T /metrics HTTP/1.0\r\n\r\n",                     // not a token
            "GET /metrics HTTP/1.0\n\n",                         // bare LF
            "GET /metrics HTTP/1.0\r\nHost: a\nX: b\r\n\r\n",    // bare LF inside
            "GET /metrics HTTP/1.0\r\nX:\ra\r\n\r\n",            // bare CR
            "GET /metrics HTTP/1.0\r\nNo colon\r\n\r\n",
            "GET /metrics HTTP/1.0\r\nX : b\r\n\r\n",            // space before the colon
            "GET /metrics HTTP/1.0\r\nX: a\r\n folded\r\n\r\n",  // obs-fold
            "GET /metrics HTTP/1.0\r\nX: a\u{01}b\r\n\r\n",      // control byte
            "\r\n\r\n",
        ]
        for text in bad { #expect(isMalformed(read(text)), "\(text.debugDescription)") }
    }

    @Test func aHeadOfExactlyTheLimitIsReadAndOneByteMoreIsTooLarge() {
        let prefix = "GET /metrics HTTP/1.0\r\nX: "
        let suffix = "\r\n\r\n"
        let fits = prefix + String(repeating: "a", count: 8192 - prefix.utf8.count - suffix.utf8.count) + suffix
        #expect(fits.utf8.count == 8192)
        #expect(read(fits) == head("GET", "/metrics", "HTTP/1.0"))
        let over = prefix + String(repeating: "a", count: 8193 - prefix.utf8.count - suffix.utf8.count) + suffix
        #expect(read(over) == .failed(.tooLarge))
    }

    @Test func aHeadWithoutEndIsTooLargeAsSoonAsItReachesTheLimit() {
        var reader = HTTPRequestReader(maxHeadBytes: 64)
        #expect(reader.feed(Array(repeating: UInt8(ascii: "a"), count: 63)) == .needMore)
        #expect(reader.feed([UInt8(ascii: "a")]) == .failed(.tooLarge))
        #expect(HTTPRequestError.tooLarge.status == .headersTooLarge)
        #expect(HTTPRequestError.malformed("x").status == .badRequest)
    }

    private func isMalformed(_ result: HTTPReadResult) -> Bool {
        if case .failed(.malformed) = result { return true }
        return false
    }
}

@Suite struct MetricsRouteTests {
    private func route(_ method: String, _ path: String) -> MetricsRoute {
        MetricsRoute(HTTPRequestHead(method: method, path: path, version: "HTTP/1.1"))
    }

    @Test func onlyGetOfTheTwoPathsIsServed() {
        #expect(route("GET", "/metrics") == .metrics)
        #expect(route("GET", "/healthz") == .health)
        #expect(route("POST", "/metrics") == .refuse(.methodNotAllowed))
        #expect(route("HEAD", "/healthz") == .refuse(.methodNotAllowed))
        #expect(route("get", "/metrics") == .refuse(.methodNotAllowed))  // methods are case-sensitive
        #expect(route("GET", "/nope") == .refuse(.notFound))
        #expect(route("POST", "/nope") == .refuse(.notFound))
        #expect(route("GET", "/metrics/") == .refuse(.notFound))
    }

    @Test func everyResponseSaysConnectionCloseAndItsLength() {
        let text = String(decoding: HTTPResponse.plain(.notFound).encoded, as: UTF8.self)
        #expect(text == "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 10\r\nConnection: close\r\n\r\nNot Found\n")
    }
}

@Suite struct HTTPRequestReaderLineEndingTests {
    @Test func aBareLineFeedIsRefusedAtOnce() {
        var reader = HTTPRequestReader()
        #expect(reader.feed(Array("GET /metrics HTTP/1.0".utf8)) == .needMore)
        guard case .failed(.malformed) = reader.feed([0x0A]) else { Issue.record("bare LF accepted"); return }
    }
}
