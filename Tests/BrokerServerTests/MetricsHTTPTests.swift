// The metrics endpoint over real TCP: /metrics, /healthz, refusals, size and time limits, the topic cap.
import Glibc
import Testing
@testable import Broker

/// One HTTP response as read up to the server's close.
struct HTTPReply {
    /// The status code, nil if the connection closed without a status line.
    var status: Int?
    /// Header fields, names lower-cased.
    var headers: [String: String] = [:]
    /// Body lines.
    var body: [String] = []
}

/// Sends `request` as it is and reads everything up to the server's close.
func httpExchange(port: Int, _ request: String) throws -> HTTPReply {
    let client = try TestClient(port: port)
    try client.sendRaw(request)
    return try readHTTPReply(client)
}

func readHTTPReply(_ client: TestClient) throws -> HTTPReply {
    var reply = HTTPReply()
    guard let statusLine = try client.readLine() else { return reply }
    let parts = statusLine.split(separator: " ")
    if parts.count >= 2, parts[0] == "HTTP/1.1" { reply.status = Int(parts[1]) }
    while let line = try client.readLine() {
        let field = line.hasSuffix("\r") ? String(line.dropLast()) : line
        if field.isEmpty { break }
        if let colon = field.firstIndex(of: ":") {
            reply.headers[field[..<colon].lowercased()] = field[field.index(after: colon)...].trimmingPrefix(" ").description
        }
    }
    while let line = try client.readLine() { reply.body.append(line) }
    return reply
}

func get(_ port: Int, _ path: String) throws -> HTTPReply {
    try httpExchange(port: port, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
}

/// Starts a broker with the metrics server on a free port; runs `body` with the broker and that port.
func withMetricsBroker(requestDeadlineMs: Int = 5000, _ configure: (inout BrokerConfig) -> Void = { _ in },
                       _ body: (InProcessBroker, Int) throws -> Void) throws {
    try withBroker(configure) { broker in
        let address = try broker.server.startMetrics(port: 0, requestDeadlineMs: requestDeadlineMs)
        #expect(address.ip == "127.0.0.1")
        try body(broker, address.port)
    }
}

@Suite struct MetricsHTTPTests {
    @Test func metricsIsThePrometheusTextFormatWithTheStatsFigures() throws {
        try withMetricsBroker { broker, port in
            let client = try broker.connect()
            #expect(try client.request("SUB m.a") == "OK")
            #expect(try client.request("PUB m.a hello") == "OK 1")
            try client.expectLine("MSG m.a hello")
            try client.barrier()
            let reply = try get(port, "/metrics")
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
            #expect(reply.headers["connection"] == "close")
            let body = Set(reply.body)
            #expect(body.contains("broker_published_total 1"))
            #expect(body.contains("broker_delivered_total 1"))
            #expect(body.contains("broker_connections 1"))
            #expect(body.contains("broker_subscriptions 1"))
            #expect(body.contains("broker_info{version=\"\(BrokerVersion.current)\"} 1"))
            #expect(body.contains("# TYPE broker_lagged_messages_total counter"))
            #expect(body.contains("broker_topic_subscribers{topic=\"m.a\"} 1"))
            #expect(body.contains("broker_topic_published_total{topic=\"m.a\"} 1"))
            for family in ["uptime_seconds", "topics", "lagged_events_total", "bytes_in_total", "bytes_out_total"] {
                #expect(reply.body.contains { $0.hasPrefix("broker_\(family) ") }, "no broker_\(family)")
            }
        }
    }

    @Test func healthzIsOkAndEverythingElseIsRefused() throws {
        try withMetricsBroker { _, port in
            let health = try get(port, "/healthz")
            #expect(health.status == 200)
            #expect(health.body == ["ok"])
            #expect(try get(port, "/nope").status == 404)
            #expect(try httpExchange(port: port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").status == 405)
            #expect(try httpExchange(port: port, "garbage\r\n\r\n").status == 400)
            #expect(try httpExchange(port: port, "GET /metrics HTTP/1.1\r\n\r\n").status == 400)  // no Host
            for reply in [health, try get(port, "/nope")] { #expect(reply.headers["connection"] == "close") }
        }
    }

    @Test func anOversizedRequestIsCutOff() throws {
        try withMetricsBroker { _, port in
            let reply = try httpExchange(port: port, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "b", count: 16 * 1024) + "\r\n\r\n")
            #expect(reply.status == 431 || reply.status == nil, "got \(String(describing: reply.status))")
            #expect(try get(port, "/healthz").status == 200)  // the server is still there
        }
    }

    @Test func aSlowRequestIsCutOffAfterTheDeadlineWhileOthersAreServed() throws {
        let deadline = 300
        try withMetricsBroker(requestDeadlineMs: deadline) { _, port in
            let started = monotonicMilliseconds()  // before connecting: the server's clock starts at its accept
            let slow = try TestClient(port: port)
            try slow.sendRaw("GET /metr")
            // Another connection is served meanwhile: one thread, several connections.
            #expect(try get(port, "/healthz").status == 200)
            let reply = try readHTTPReply(slow)  // returns at the server's close
            let elapsed = monotonicMilliseconds() - started
            #expect(reply.status == 408 || reply.status == nil)
            #expect(elapsed >= Int64(deadline), "cut off after \(elapsed) ms")
        }
    }

    @Test func perTopicSeriesAreCappedAtMetricsTopTopicsReadLive() throws {
        try withMetricsBroker({ $0.metricsTopTopics = 3 }) { broker, port in
            let clients = try (0..<6).map { _ in try broker.connect() }
            for (index, client) in clients.enumerated() {
                // Topic cap.k has k+1 subscribers, so the busiest are cap.5, cap.4, cap.3.
                for subscriber in clients[...index] { #expect(try subscriber.request("SUB cap.\(index)") == "OK") }
                _ = client
            }
            func series() throws -> [String] {
                try get(port, "/metrics").body.filter { $0.hasPrefix("broker_topic_subscribers{") }.sorted()
            }
            #expect(try series() == ["broker_topic_subscribers{topic=\"cap.3\"} 4", "broker_topic_subscribers{topic=\"cap.4\"} 5",
                                     "broker_topic_subscribers{topic=\"cap.5\"} 6"])
            var config = BrokerConfig()
            config.metricsTopTopics = 5
            try broker.server.apply(config)
            #expect(try series().count == 5)
            config.metricsTopTopics = 0
            try broker.server.apply(config)
            #expect(try series().isEmpty)
        }
    }

    @Test func theDaemonPrintsTheMetricsReadinessLineAfterTheFirstAndServesThere() throws {
        let (fd, port) = try listenOnEphemeralPort()
        Glibc.close(fd)  // free again for the broker (a tiny race with other processes, no worse than port 0 for a client)
        let broker = try BrokerProcess.start(["--port", "0", "--metrics-port", String(port)])
        defer { broker.kill() }
        let index = try broker.stdout.waitForLine(containing: "metrics listening on ")
        #expect(index == 1)
        #expect(broker.stdout.lines[index] == "metrics listening on 127.0.0.1:\(port)")
        #expect(try get(port, "/healthz").status == 200)
        broker.signal(SIGTERM)
        #expect(try broker.waitForExit() == 0)
    }

    @Test func aMetricsPortAlreadyBoundExits69() throws {
        let (listener, port) = try listenOnEphemeralPort()
        defer { Glibc.close(listener) }
        let result = try runBrokerServer(["--port", "0", "--metrics-port", "\(port)"])
        #expect(result.status == 69)
        #expect(result.stderr.last?.contains("cannot listen on 127.0.0.1:\(port)") == true, "\(result.stderr)")
        #expect(!result.stdout.contains { $0.hasPrefix("metrics listening on") })
    }

    @Test func withoutMetricsPortTheDaemonPrintsOnlyOneLine() throws {
        let broker = try BrokerProcess.start(["--port", "0"])
        defer { broker.kill() }
        broker.signal(SIGTERM)
        #expect(try broker.waitForExit() == 0)
        try broker.stdout.waitForClose()
        #expect(broker.stdout.lines.count == 1)
    }
}
