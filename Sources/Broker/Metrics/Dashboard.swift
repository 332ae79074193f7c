// The dashboard at `/`: one page, HTML, CSS and JavaScript in the binary (no files, no CDN), live over the JSON API and /ws.

/// The page `GET /` serves: broker figures with a chart of messages per second, the lagging
/// subscribers (client, address, topic, behind now, missed in all), the topics by lag, the
/// `$SYS.lagged` feed, and a publish/subscribe panel (through `/broker.js`). It polls
/// `/api/v1/stats`, `/api/v1/connections` and `/api/v1/topics` once a second and shows at
/// most 25 rows of each table, saying how many more there are. `scripts/ci-browser.sh` checks it
/// in Chromium.
enum Dashboard {
    static let contentType = "text/html; charset=utf-8"

    static let page = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>broker</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 10px 16px; display: flex; flex-wrap: wrap; gap: 18px; align-items: baseline; }
  header h1 { font-size: 16px; margin: 0 12px 0 0; }
  .figure b { font-size: 18px; }
  main { display: flex; flex-wrap: wrap; gap: 14px; padding: 14px; }
  section { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: 10px 12px; flex: 1 1 420px; min-width: 0; }
  h2 { font-size: 14px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eef0f3; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 220px; }
  td.n, th.n { text-align: right; }
  tr.lagging td { color: #b3261e; }
  .hidden-count { color: #667; font-size: 12px; margin-top: 4px; }
  #feed { font: 12px ui-monospace, monospace; max-height: 180px; overflow-y: auto; white-space: pre-wrap; }
  canvas { width: 100%; height: 120px; }
  input { font: inherit; padding: 3px 6px; width: 38%; }
  button { font: inherit; padding: 3px 10px; }
  #received { font: 12px ui-monospace, monospace; max-height: 140px; overflow-y: auto; white-space: pre-wrap; }
</style>
</head>
<body>
<header>
  <h1>broker</h1>
  <span class="figure">connections <b id="connections">–</b></span>
  <span class="figure">topics <b id="topics">–</b></span>
  <span class="figure">in <b id="rate-in">–</b>/s</span>
  <span class="figure">out <b id="rate-out">–</b>/s</span>
  <span class="figure">lagged <b id="lagged">–</b></span>
</header>
<main>
  <section>
    <h2>Messages per second</h2>
    <canvas id="chart" width="600" height="120"></canvas>
  </section>
  <section>
    <h2>Lagging subscribers</h2>
    <table id="lagging"><thead><tr><th>client</th><th>address</th><th>topic</th><th class="n">behind now</th><th class="n">missed total</th></tr></thead><tbody></tbody></table>
    <div class="hidden-count" id="lagging-hidden"></div>
  </section>
  <section>
    <h2>Topics, by lag</h2>
    <table id="topics-table"><thead><tr><th>topic</th><th class="n">subscribers</th><th class="n">msgs/s</th><th class="n">held</th><th class="n">lagging</th><th class="n">max lag</th></tr></thead><tbody></tbody></table>
    <div class="hidden-count" id="topics-hidden"></div>
  </section>
  <section>
    <h2>$SYS.lagged</h2>
    <div id="feed"></div>
  </section>
  <section>
    <h2>Try it</h2>
    <div><input id="pub-topic" placeholder="topic" value="demo"> <input id="pub-payload" placeholder="message"> <button id="pub">Publish</button> <span id="pub-result"></span></div>
    <div style="margin-top:6px"><input id="sub-topic" placeholder="topic or pattern" value="demo"> <button id="sub">Subscribe</button></div>
    <div id="received"></div>
  </section>
</main>
<script src="/broker.js"></script>
<script>
"use strict";
const shown = 25;
const history = [];
let last = null;
const $ = (id) => document.getElementById(id);
const cell = (text, numeric) => { const td = document.createElement("td"); td.textContent = text; if (numeric) td.className = "n"; return td; };

async function json(path) { const r = await fetch(path); if (!r.ok) throw new Error(path + ": " + r.status); return r.json(); }

function row(cells, lagging) {
  const tr = document.createElement("tr");
  if (lagging) tr.className = "lagging";
  for (const [text, numeric] of cells) tr.appendChild(cell(text, numeric));
  return tr;
}

async function refresh() {
  const [stats, connections, topics] = await Promise.all([
    json("/api/v1/stats"), json("/api/v1/connections?sort=missed&limit=200"), json("/api/v1/topics?sort=lag&limit=" + shown)]);
  $("connections").textContent = stats.connections;
  $("topics").textContent = stats.topics;
  $("lagged").textContent = stats.lagged_messages_total;
  const now = Date.now();
  if (last) {
    const seconds = (now - last.at) / 1000;
    const rateIn = (stats.published_total - last.published) / seconds, rateOut = (stats.delivered_total - last.delivered) / seconds;
    $("rate-in").textContent = Math.round(rateIn);
    $("rate-out").textContent = Math.round(rateOut);
    history.push([rateIn, rateOut]);
    if (history.length > 120) history.shift();
    draw();
  }
  last = { at: now, published: stats.published_total, delivered: stats.delivered_total };

  const rows = [];
  for (const c of connections.connections)
    for (const s of c.subscriptions)
      for (const t of s.topics)
        if (t.behind > 0 || t.missed > 0) rows.push({ id: c.id, address: c.address, topic: t.topic, behind: t.behind, missed: t.missed });
  rows.sort((a, b) => (b.missed - a.missed) || (b.behind - a.behind));
  const body = $("lagging").tBodies[0];
  body.replaceChildren(...rows.slice(0, shown).map((r) =>
    row([[r.id, false], [r.address, false], [r.topic, false], [r.behind, true], [r.missed, true]], r.behind > 0)));
  $("lagging-hidden").textContent = rows.length > shown ? (rows.length - shown) + " more not shown" :
    (connections.total > connections.connections.length ? "of the " + connections.connections.length + " connections that missed the most, of " + connections.total : "");

  $("topics-table").tBodies[0].replaceChildren(...topics.topics.map((t) =>
    row([[t.topic, false], [t.subscribers, true], [t.publish_rate === null ? "–" : Math.round(t.publish_rate), true],
         [t.held, true], [t.lagging, true], [t.max_lag, true]], t.max_lag > 0)));
  $("topics-hidden").textContent = topics.total > topics.topics.length ? (topics.total - topics.topics.length) + " more topics not shown" : "";
}

function draw() {
  const canvas = $("chart"), g = canvas.getContext("2d");
  g.clearRect(0, 0, canvas.width, canvas.height);
  const top = Math.max(1, ...history.flat());
  [["#2a6fdb", 0], ["#1a9e5a", 1]].forEach(([color, k]) => {
    g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
    history.forEach((point, i) => {
      const x = i * canvas.width / 119, y = canvas.height - 4 - point[k] * (canvas.height - 8) / top;
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
  });
}

const broker = new BrokerClient((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
broker.ready.then(() => broker.sub("$SYS.lagged", (text) => {
  const line = document.createElement("div");
  line.textContent = new Date().toLocaleTimeString() + "  " + text;
  $("feed").prepend(line);
  while ($("feed").childNodes.length > 200) $("feed").lastChild.remove();
}));
$("pub").onclick = async () => {
  try {
    const r = await broker.pub($("pub-topic").value, $("pub-payload").value);
    $("pub-result").textContent = "sent to " + r.count + " (seq " + r.seq + ")";
  } catch (e) { $("pub-result").textContent = e.message; }
};
$("sub").onclick = () => {
  const name = $("sub-topic").value;
  broker.sub(name, (text, m) => {
    const line = document.createElement("div");
    line.textContent = m.topic + " " + m.seq + "  " + text;
    $("received").prepend(line);
  }).catch((e) => { $("received").prepend(document.createTextNode(e.message + "\n")); });
};
setInterval(() => refresh().catch(() => {}), 1000);
refresh().catch(() => {});
</script>
</body>
</html>

"""#
}
