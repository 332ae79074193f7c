// Runs broker.js, as the broker serves it, against a running broker: publish, subscribe, a
// forced reconnect with resume, lag. Node has no WebSocket of its own before version 22, so a
// minimal RFC 6455 client over `net` stands in for the browser's.
// Usage: node scripts/test-broker-js.mjs HTTP_PORT
import net from "node:net";
import http from "node:http";
import crypto from "node:crypto";
import vm from "node:vm";

const port = Number(process.argv[2]);
if (!port) { console.error("usage: node scripts/test-broker-js.mjs HTTP_PORT"); process.exit(64); }

class MiniWebSocket {
  constructor(url) {
    const { hostname, port, pathname } = new URL(url);
    this.readyState = 0;
    this.socket = net.connect(Number(port), hostname);
    this.buffer = Buffer.alloc(0);
    this.upgraded = false;
    const key = crypto.randomBytes(16).toString("base64");
    this.socket.on("connect", () => this.socket.write(
      `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`));
    this.socket.on("data", (chunk) => { this.buffer = Buffer.concat([this.buffer, chunk]); this.read(); });
    this.socket.on("close", () => { if (this.readyState !== 3) { this.readyState = 3; this.onclose && this.onclose({}); } });
    this.socket.on("error", () => {});
  }
  read() {
    if (!this.upgraded) {
      const end = this.buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      if (!this.buffer.subarray(0, end).toString().startsWith("HTTP/1.1 101")) { this.socket.destroy(); return; }
      this.buffer = this.buffer.subarray(end + 4);
      this.upgraded = true;
      this.readyState = 1;
      this.onopen && this.onopen({});
    }
    while (this.buffer.length >= 2) {
      let length = this.buffer[1] & 0x7f, offset = 2;
      if (length === 126) { if (this.buffer.length < 4) return; length = this.buffer.readUInt16BE(2); offset = 4; }
      else if (length === 127) { if (this.buffer.length < 10) return; length = Number(this.buffer.readBigUInt64BE(2)); offset = 10; }
      if (this.buffer.length < offset + length) return;
      const opcode = this.buffer[0] & 0x0f;
      const payload = this.buffer.subarray(offset, offset + length);
      this.buffer = this.buffer.subarray(offset + length);
      if (opcode === 1) this.onmessage && this.onmessage({ data: payload.toString("utf8") });
      else if (opcode === 2) this.onmessage && this.onmessage({ data: payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.length) });
      else if (opcode === 8) this.socket.end();
    }
  }
  send(data) {
    const payload = typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data);
    const mask = crypto.randomBytes(4);
    let head;
    if (payload.length < 126) head = Buffer.from([0x81 + (typeof data === "string" ? 0 : 1), 0x80 | payload.length]);
    else if (payload.length < 65536) { head = Buffer.alloc(4); head[0] = typeof data === "string" ? 0x81 : 0x82; head[1] = 0xfe; head.writeUInt16BE(payload.length, 2); }
    else { head = Buffer.alloc(10); head[0] = typeof data === "string" ? 0x81 : 0x82; head[1] = 0xff; head.writeBigUInt64BE(BigInt(payload.length), 2); }
    const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]));
    this.socket.write(Buffer.concat([head, mask, masked]));
  }
  close() { this.readyState = 3; this.socket.destroy(); this.onclose && this.onclose({}); }
}
globalThis.WebSocket = MiniWebSocket;

function fetchText(path) {
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode, type: response.headers["content-type"], body }));
    }).on("error", reject);
  });
}

function until(condition, what) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 10000;
    const check = () => {
      if (condition()) return resolve();
      if (Date.now() > deadline) return reject(new Error("timed out waiting for " + what));
      setTimeout(check, 5);
    };
    check();
  });
}

function expect(condition, text) { if (!condition) { console.error("FAILED: " + text); process.exit(1); } }

const script = await fetchText("/broker.js");
expect(script.status === 200, "GET /broker.js is 200");
expect(/javascript/.test(script.type), "GET /broker.js is JavaScript: " + script.type);
vm.runInThisContext(script.body, { filename: "broker.js" });
const BrokerClient = globalThis.BrokerClient;
expect(typeof BrokerClient === "function", "broker.js defines BrokerClient");

const url = `ws://127.0.0.1:${port}/ws`;
const subscriber = new BrokerClient(url, { reconnectMs: 20 });
const publisher = new BrokerClient(url);
await subscriber.ready;
await publisher.ready;

const got = [];
await subscriber.sub("js.orders", (text, m) => got.push(m.seq + ":" + text));
for (const n of [1, 2, 3]) await publisher.pub("js.orders", "m" + n);
const binary = await publisher.pub("js.orders", "two\nlines");
expect(binary.seq === 4 && binary.count === 1, "a payload with an LF goes as BPUB: " + JSON.stringify(binary));
await until(() => got.length === 4, "four messages");
expect(got.join(",") === "1:m1,2:m2,3:m3,4:two\nlines", "in order, with sequences: " + got.join(","));

// A forced reconnect: what is published meanwhile comes after it, once, in order.
let closes = 0, reopened = 0;
subscriber.on("close", () => closes++);
subscriber.on("open", () => reopened++);
subscriber.ws.socket.destroy();
await until(() => closes === 1, "the subscriber's close");
for (const n of [5, 6, 7]) await publisher.pub("js.orders", "m" + n);
await until(() => reopened === 1, "the subscriber's reconnect");
await until(() => got.length === 7, "the messages published while it was away");
expect(got.slice(4).join(",") === "5:m5,6:m6,7:m7", "resumed with from=, nothing lost or repeated: " + got.join(","));
await publisher.pub("js.orders", "m8");
await until(() => got.length === 8, "a live message after the resume");

// Patterns and errors.
const patterned = [];
await subscriber.sub("js.*", (text, m) => patterned.push(m.topic + "=" + text));
await publisher.pub("js.other", "x");
await until(() => patterned.length === 1, "a message under the pattern");
expect(patterned[0] === "js.other=x", "the pattern's message: " + patterned[0]);
let refused = null;
try { await publisher.pub("a..b", "x"); } catch (error) { refused = error.message; }
expect(refused && refused.startsWith("bad"), "a refusal rejects the promise: " + refused);

subscriber.close();
publisher.close();
console.log("broker.js: ok (" + got.length + " messages, resumed after a reconnect)");
process.exit(0);
