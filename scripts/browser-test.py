#!/usr/bin/env python3
"""The dashboard and /broker.js in a real browser: drives Chromium (headless) over the
DevTools protocol against a running broker-server. Checks that
  1. a subscriber made to lag on purpose shows on the page, within 2 s of its last LAGGED, with
     its client id, topic and the exact missed count it received, and in the $SYS.lagged feed;
  2. a message published from the page's panel reaches a TCP subscriber;
  3. /broker.js in the page round-trips messages with resume across a forced reconnect;
  4. with 10,000 more connections and 10,000 more topics, the page shows 25 rows of each table,
     says how many it hides, and one refresh (three API calls and the redraw) ends within 2 s;
then saves a screenshot of the dashboard showing the lag (after step 1).
Usage: scripts/browser-test.py TCP_PORT HTTP_PORT SCREENSHOT.png"""
import base64, json, os, re, resource, socket, statistics, struct, subprocess, sys, tempfile, time, urllib.request

def fail(text):
    print("browser-test: FAILED: " + text, file=sys.stderr)
    sys.exit(1)

class DevTools:
    """A minimal WebSocket client (RFC 6455) speaking the DevTools protocol's JSON."""
    def __init__(self, url):
        match = re.match(r"ws://([^:/]+):(\d+)(/.*)", url)
        self.sock = socket.create_connection((match.group(1), int(match.group(2))), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {match.group(3)} HTTP/1.1\r\nHost: {match.group(1)}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        if not head.startswith(b"HTTP/1.1 101"):
            fail(f"DevTools did not upgrade: {head[:60]!r}")
        self.next_id = 0

    def _send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        if len(data) < 126:
            head = bytes([0x81, 0x80 | len(data)])
        elif len(data) < 65536:
            head = bytes([0x81, 0xFE]) + struct.pack(">H", len(data))
        else:
            head = bytes([0x81, 0xFF]) + struct.pack(">Q", len(data))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                fail("DevTools closed the connection")
            data += chunk
        return data

    def _receive(self):
        message = b""
        while True:
            head = self._exact(2)
            length = head[1] & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._exact(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._exact(8))[0]
            message += self._exact(length)
            if head[0] & 0x80:
                return message.decode()

    def call(self, method, **params):
        self.next_id += 1
        self._send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self._receive())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    fail(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            fail(f"the page threw: {result['exceptionDetails']}")
        return result["result"].get("value")

def tcp(port, receive_buffer=None):
    s = socket.socket()
    if receive_buffer:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    s.connect(("127.0.0.1", port))
    s.settimeout(30)
    return s, s.makefile("rb")

def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(64)
    tcp_port, http_port, screenshot = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    profile = tempfile.mkdtemp()
    chromium = subprocess.Popen(["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                 "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1280,1000",
                                 "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        browser_url = None
        deadline = time.time() + 30
        while time.time() < deadline and browser_url is None:
            line = chromium.stderr.readline()
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            if match:
                browser_url = match.group(1)
        if browser_url is None:
            fail("Chromium did not start")
        devtools_port = int(re.match(r"ws://[^:]+:(\d+)/", browser_url).group(1))
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{devtools_port}/json/list"))
        page = DevTools(next(p for p in pages if p["type"] == "page")["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Page.navigate", url=f"http://127.0.0.1:{http_port}/")
        deadline = time.time() + 30
        while page.evaluate("document.readyState") != "complete" or page.evaluate("typeof BrokerClient") != "function":
            if time.time() > deadline:
                fail("the dashboard did not load")
            time.sleep(0.05)

        # 1. A subscriber that does not read while 30,000 messages go by, then reads them all.
        slow, slow_lines = tcp(tcp_port, receive_buffer=4096)
        slow.sendall(b"SUB lag.demo\n")
        if slow_lines.readline() != b"OK\n":
            fail("SUB lag.demo")
        publisher, publisher_lines = tcp(tcp_port)
        payload = b"x" * 200
        publisher.sendall(b"".join(b"PUB lag.demo " + payload + b"\n" for _ in range(30000)))
        for _ in range(30000):
            publisher_lines.readline()
        publisher.sendall(b"PUB lag.demo end\n")
        publisher_lines.readline()
        missed = 0
        while True:
            line = slow_lines.readline()
            if line.startswith(b"LAGGED lag.demo "):
                missed += int(line.split()[2])
            elif line == b"MSG lag.demo end\n":
                break
        done_at = time.time()
        if missed == 0:
            fail("the subscriber did not lag")
        connections = json.load(urllib.request.urlopen(f"http://127.0.0.1:{http_port}/api/v1/connections?sort=missed&limit=1"))
        client_id = connections["connections"][0]["id"]
        shown = None
        while time.time() - done_at <= 2.0:
            rows = page.evaluate("[...document.querySelectorAll('#lagging tbody tr')].map(r => [...r.cells].map(c => c.textContent))")
            shown = next((row for row in rows if row[2] == "lag.demo"), None)
            if shown and int(shown[4]) == missed:
                break
            time.sleep(0.05)
        if not shown or int(shown[4]) != missed:
            fail(f"within 2 s the page did not show lag.demo with {missed} missed: {shown}")
        if int(shown[0]) != client_id:
            fail(f"the row names client {shown[0]}, the lagging one is {client_id}")
        feed = page.evaluate("document.getElementById('feed').textContent")
        if "topic=lag.demo" not in feed:
            fail("the $SYS.lagged feed did not show the lag")
        print(f"browser-test: the page showed client {client_id} on lag.demo with {missed} missed, "
              f"{time.time() - done_at:.2f} s after its last LAGGED")
        time.sleep(2.2)  # not a synchronization: two more polls, so that the chart has a line to show
        shot = page.call("Page.captureScreenshot", format="png")
        with open(screenshot, "wb") as out:
            out.write(base64.b64decode(shot["data"]))

        # 2. Published from the page's panel, received by a TCP subscriber.
        listener, listener_lines = tcp(tcp_port)
        listener.sendall(b"SUB panel.demo\n")
        if listener_lines.readline() != b"OK\n":
            fail("SUB panel.demo")
        page.evaluate("document.getElementById('pub-topic').value = 'panel.demo';"
                      "document.getElementById('pub-payload').value = 'from the page';"
                      "document.getElementById('pub').click(); true")
        if listener_lines.readline() != b"MSG panel.demo from the page\n":
            fail("the panel's message did not arrive")
        print("browser-test: a message published from the page reached a TCP subscriber")

        # 3. /broker.js in the page: a round trip, a forced reconnect, a resume.
        result = page.evaluate("""(async () => {
            const until = async (test) => { for (let i = 0; i < 500 && !test(); i++) await new Promise(r => setTimeout(r, 10)); return test(); };
            const sub = new BrokerClient("ws://" + location.host + "/ws", { reconnectMs: 20 });
            const pub = new BrokerClient("ws://" + location.host + "/ws");
            await sub.ready; await pub.ready;
            const got = [];
            let opens = 0, closes = 0;
            sub.on("open", () => opens++); sub.on("close", () => closes++);
            await sub.sub("page.resume", (text, m) => got.push(m.seq + ":" + text));
            await pub.pub("page.resume", "one");
            if (!await until(() => got.length === 1)) return "no first message: " + got;
            sub.ws.close();
            if (!await until(() => closes === 1)) return "no close";
            await pub.pub("page.resume", "two");
            await pub.pub("page.resume", "three");
            if (!await until(() => opens === 1 && got.length === 3)) return "not resumed: " + got;
            sub.close(); pub.close();
            return got.join(",");
        })()""")
        if result != "1:one,2:two,3:three":
            fail(f"broker.js in the page: {result}")
        print("browser-test: /broker.js in the page resumed after a forced reconnect: " + result)

        # 4. 10,000 connections, each subscribed to a topic of its own that holds a message.
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        crowd = []
        for i in range(10000):
            s = socket.create_connection(("127.0.0.1", tcp_port))
            s.sendall(f"SUB load.{i}\n".encode())
            crowd.append(s)
        for s in crowd:
            s.settimeout(30)
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = s.recv(16)
                if not chunk:
                    fail("a crowd connection closed")
                reply += chunk
            if reply != b"OK\n":
                fail(f"SUB load.*: {reply!r}")
        publisher.sendall(b"".join(f"PUB load.{i} x\n".encode() for i in range(10000)))
        for _ in range(10000):
            publisher_lines.readline()
        stats = json.load(urllib.request.urlopen(f"http://127.0.0.1:{http_port}/api/v1/stats"))
        if stats["connections"] < 10000 or stats["topics"] < 10000:
            fail(f"the broker has {stats['connections']} connections and {stats['topics']} topics")
        timings = []
        for _ in range(5):
            timings.append(page.evaluate("(async () => { const t = performance.now(); await refresh(); return performance.now() - t; })()"))
        topic_rows = page.evaluate("document.querySelectorAll('#topics-table tbody tr').length")
        hidden = page.evaluate("document.getElementById('topics-hidden').textContent")
        total_topics = json.load(urllib.request.urlopen(f"http://127.0.0.1:{http_port}/api/v1/topics?limit=1"))["total"]
        if topic_rows != 25 or hidden != f"{total_topics - 25} more topics not shown":
            fail(f"with {total_topics} topics the page shows {topic_rows} rows and says '{hidden}'")
        slowest = max(timings)
        if slowest > 2000:
            fail(f"a refresh with 10,000 connections and topics took {slowest:.0f} ms")
        print(f"browser-test: {stats['connections']} connections, {total_topics} topics: 25 topic rows, '{hidden}'; "
              f"a refresh took {statistics.median(timings):.0f} ms (median of 5, slowest {slowest:.0f} ms)")
        for s in crowd:
            s.close()
    finally:
        chromium.kill()
        chromium.wait()

main()
