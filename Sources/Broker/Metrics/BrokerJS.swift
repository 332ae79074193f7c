// /broker.js: the JavaScript client the HTTP listener serves (docs/http.md), kept here as text so the binary needs no files.

/// The source of `/broker.js`: a dependency-free client for the WebSocket transport
/// (connect, `AUTH`, `HELLO 2`, publish, subscribe with resume after a reconnect, lag and
/// reset events). `scripts/test-broker-js.mjs` runs it, as served, against a real broker.
enum BrokerJS {
    static let contentType = "text/javascript; charset=utf-8"

    static let source = #"""
// broker.js: a dependency-free client for the broker's WebSocket transport (protocol version 2).
// Served by the broker at /broker.js. Usage:
//   const broker = new BrokerClient("ws://" + location.host + "/ws", { token: "..." });
//   await broker.sub("orders", (text, m) => console.log(m.topic, m.seq, text));
//   await broker.pub("orders", "hello");
//   broker.on("lag", (topic, missed) => ...); broker.on("reset", (topic, epoch, head) => ...);
(function (root) {
  "use strict";
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();

  class BrokerClient {
    // url: ws://host:port/ws. options: token (AUTH), reconnectMs (first pause, doubling to 5 s).
    constructor(url, options) {
      this.url = url;
      this.options = options || {};
      this.subscriptions = new Map(); // topic or pattern -> { handler, options, epoch, seq }
      this.waiting = [];              // replies awaited, in command order
      this.listeners = {};
      this.closed = false;
      this.pause = this.options.reconnectMs || 250;
      this.ready = null;
      this.connect();
    }

    on(event, listener) { (this.listeners[event] = this.listeners[event] || []).push(listener); return this; }
    emit(event, ...args) { for (const listener of this.listeners[event] || []) listener(...args); }

    connect() {
      const ws = new WebSocket(this.url);
      ws.binaryType = "arraybuffer";
      this.ws = ws;
      this.ready = new Promise((resolve) => { this.opened = resolve; });
      ws.onopen = () => {
        this.pause = this.options.reconnectMs || 250;
        if (this.options.token) this.command("AUTH " + this.options.token).catch((e) => this.emit("error", e));
        this.command("HELLO 2").catch((e) => this.emit("error", e));
        for (const [name, s] of this.subscriptions) this.resubscribe(name, s);
        this.opened();
        this.emit("open");
      };
      ws.onmessage = (event) => this.frame(event.data);
      ws.onclose = () => {
        const waiting = this.waiting;
        this.waiting = [];
        for (const w of waiting) w.reject(new Error("connection closed"));
        this.emit("close");
        if (!this.closed) {
          setTimeout(() => this.connect(), this.pause);
          this.pause = Math.min(this.pause * 2, 5000);
        }
      };
    }

    // Sends one command line (or bytes) and resolves with its reply line ("OK ...").
    command(line, payload) {
      if (!this.ws || this.ws.readyState !== 1) return Promise.reject(new Error("not connected"));
      return new Promise((resolve, reject) => {
        this.waiting.push({ resolve, reject });
        if (payload === undefined) {
          this.ws.send(line + "\n");
        } else {
          const head = encoder.encode(line + "\n");
          const bytes = new Uint8Array(head.length + payload.length + 1);
          bytes.set(head, 0);
          bytes.set(payload, head.length);
          bytes[bytes.length - 1] = 10;
          this.ws.send(bytes);
        }
      });
    }

    // Publishes a string or Uint8Array; resolves with { count, epoch, seq }.
    async pub(topic, payload) {
      const bytes = typeof payload === "string" ? encoder.encode(payload) : payload;
      const oneLine = typeof payload === "string" && bytes.length > 0 && !bytes.includes(10) && bytes[bytes.length - 1] !== 13;
      const reply = oneLine ? await this.command("PUB " + topic + " " + payload)
                            : await this.command("BPUB " + topic + " " + bytes.length, bytes);
      const [count, position] = reply.split(" ").slice(1);
      const [epoch, seq] = (position || ":").split(":");
      return { count: Number(count), epoch, seq: Number(seq) };
    }

    // Subscribes; handler(text, { topic, seq, bytes }) gets each message. options: last, group.
    // After a reconnect the subscription resumes where it was (from=): what the broker no
    // longer holds comes as a "lag" event, a stream that is not the same as a "reset" event.
    async sub(name, handler, options) {
      const s = { handler, options: options || {}, epoch: null, seq: null };
      this.subscriptions.set(name, s);
      return this.subscribe(name, s, this.suffix(s.options));
    }

    async unsub(name) {
      const s = this.subscriptions.get(name);
      this.subscriptions.delete(name);
      return this.command("UNSUB " + name + (s && s.options.group ? " group=" + s.options.group : ""));
    }

    close() { this.closed = true; if (this.ws) this.ws.close(); }

    suffix(options) {
      let text = "";
      if (options.last) text += " last=" + options.last;
      if (options.group) text += " group=" + options.group;
      return text;
    }

    async subscribe(name, s, suffix) {
      const reply = await this.command("SUB " + name + suffix);
      const parts = reply.split(" ");
      if (parts.length === 3) {  // OK <epoch> <head>: a concrete topic
        const [epoch, head] = [parts[1], Number(parts[2])];
        const resumed = suffix.startsWith(" from=");
        if (resumed && (epoch !== s.epoch || head < s.seq)) this.emit("reset", name, epoch, head);
        if (!resumed || epoch !== s.epoch || head < s.seq) { s.epoch = epoch; s.seq = head; }
      }
      return reply;
    }

    resubscribe(name, s) {
      let suffix = s.epoch !== null ? " from=" + s.epoch + ":" + s.seq : (s.options.last ? " last=" + s.options.last : "");
      if (s.options.group) suffix += " group=" + s.options.group;
      this.subscribe(name, s, suffix).catch((e) => this.emit("error", e));
    }

    frame(data) {
      const bytes = typeof data === "string" ? encoder.encode(data) : new Uint8Array(data);
      const newline = bytes.indexOf(10);
      const line = decoder.decode(bytes.subarray(0, newline < 0 ? bytes.length : newline));
      if (line.startsWith("MSG ")) {
        const fields = line.split(" ");
        const topic = fields[1], seq = Number(fields[2]), size = Number(fields[3]);
        const payload = bytes.subarray(newline + 1, newline + 1 + size);
        for (const [name, s] of this.subscriptions) {
          if (!BrokerClient.matches(name, topic)) continue;
          if (name === topic) s.seq = seq;
          s.handler(decoder.decode(payload), { topic, seq, bytes: payload });
        }
      } else if (line.startsWith("LAGGED ")) {
        const [, topic, missed] = line.split(" ");
        for (const [name, s] of this.subscriptions) {
          if (name === topic && s.seq !== null) s.seq += Number(missed);  // those are gone: not asked for again
        }
        this.emit("lag", topic, Number(missed));
      } else if (line.startsWith("BYE ")) {
        this.emit("bye", line.slice(4));
      } else {
        const waiter = this.waiting.shift();
        if (!waiter) return;
        if (line.startsWith("ERR ")) waiter.reject(new Error(line.slice(4))); else waiter.resolve(line);
      }
    }

    // Whether a subscription string matches a topic (PROTOCOL.md: '*' one level, '>' the rest).
    static matches(pattern, topic) {
      if (pattern === topic) return true;
      const p = pattern.split("."), t = topic.split(".");
      for (let i = 0; i < p.length; i++) {
        if (p[i] === ">") return t.length > i;
        if (i >= t.length || (p[i] !== "*" && p[i] !== t[i])) return false;
      }
      return p.length === t.length;
    }
  }

  root.BrokerClient = BrokerClient;
})(typeof window !== "undefined" ? window : globalThis);

"""#
}
