// The live console served at GET /console: one self-contained page (no build step, no
// dependencies) that speaks tRPC's WebSocket protocol directly to the same endpoint the typed
// client uses, subscribing to `monitoring.metrics` and `monitoring.alerts`.
export const CONSOLE_HTML = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Churn recommender — live console</title>
<style>
  :root { --fg:#1d2330; --muted:#6b7385; --line:#dde1ea; --bad:#c62828; --ok:#2e7d32; --p50:#1565c0; --p95:#ef6c00; --p99:#c62828; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: #f6f7fa; }
  header { display: flex; gap: 24px; align-items: baseline; padding: 12px 20px; background: #fff; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
  header h1 { font-size: 16px; margin: 0; }
  .stat b { font-variant-numeric: tabular-nums; }
  #conn { margin-left: auto; font-weight: 600; }
  #conn.up { color: var(--ok); } #conn.down { color: var(--bad); }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; padding: 16px 20px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; }
  h2 { font-size: 14px; margin: 0 0 8px; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--line); }
  tr.drifted td, li.firing { color: var(--bad); font-weight: 600; }
  svg { width: 100%; height: 200px; display: block; }
  .legend span { margin-right: 12px; }
  .muted { color: var(--muted); }
  ul { margin: 0; padding-left: 18px; }
</style>
</head>
<body>
<header>
  <h1>Churn recommender</h1>
  <span class="stat">model <b id="model">–</b></span>
  <span class="stat">uptime <b id="uptime">–</b></span>
  <span class="stat">requests <b id="requests">–</b></span>
  <span class="stat">throughput <b id="rps">–</b> req/s</span>
  <span id="conn" class="down">connecting…</span>
</header>
<main>
  <section>
    <h2><span id="latop">predict</span> latency (ms, sliding window)</h2>
    <svg id="latency" viewBox="0 0 400 200" preserveAspectRatio="none"></svg>
    <div class="legend"><span style="color:var(--p50)">p50 <b id="p50">–</b></span><span style="color:var(--p95)">p95 <b id="p95">–</b></span><span style="color:var(--p99)">p99 <b id="p99">–</b></span><span>max <b id="max">–</b></span></div>
  </section>
  <section>
    <h2>calibration</h2>
    <svg id="calibration" viewBox="0 0 200 200"></svg>
    <div id="calstats" class="muted">insufficient data</div>
  </section>
  <section>
    <h2>active alerts</h2>
    <ul id="alerts"><li class="muted">none</li></ul>
    <h2 style="margin-top:12px">alert events</h2>
    <ul id="events"><li class="muted">none yet</li></ul>
  </section>
  <section>
    <h2>feature drift</h2>
    <table><thead><tr><th>feature</th><th>test</th><th>statistic</th><th>p-value</th><th>window</th></tr></thead><tbody id="drift"></tbody></table>
  </section>
  <section>
    <h2>treatment-effect drift</h2>
    <table><thead><tr><th>intervention</th><th>KS D</th><th>p-value</th><th>mean shift</th></tr></thead><tbody id="effects"></tbody></table>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const fmt = (v, d = 3) => (v === null || v === undefined ? "–" : typeof v === "number" ? (Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(d)) : String(v));
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const history = [];
const events = [];
let lastAlertId;

function polyline(points, color) {
  return '<polyline fill="none" stroke-width="2" stroke="' + color + '" points="' + points.join(" ") + '"/>';
}

function drawLatency() {
  const pts = history.slice(-120);
  const max = Math.max(1, ...pts.map((p) => p.p99 ?? 0)) * 1.1;
  const x = (i) => (pts.length < 2 ? 0 : (i / (pts.length - 1)) * 400);
  const y = (v) => 200 - (v / max) * 195;
  const line = (k, c) => polyline(pts.map((p, i) => p[k] === null ? null : x(i).toFixed(1) + "," + y(p[k]).toFixed(1)).filter(Boolean), c);
  $("latency").innerHTML = line("p50", "var(--p50)") + line("p95", "var(--p95)") + line("p99", "var(--p99)") +
    '<text x="4" y="12" font-size="11" fill="#6b7385">' + max.toFixed(2) + ' ms</text>';
}

function drawCalibration(cal) {
  let svg = '<line x1="0" y1="200" x2="200" y2="0" stroke="#dde1ea" stroke-dasharray="4"/>';
  const rows = (cal && cal.reliability) || [];
  const pts = rows.filter((r) => r.count > 0 && r.mean_predicted !== null && r.observed_rate !== null);
  svg += polyline(pts.map((r) => (r.mean_predicted * 200).toFixed(1) + "," + (200 - r.observed_rate * 200).toFixed(1)), "var(--p50)");
  for (const r of pts) svg += '<circle r="3" fill="var(--p50)" cx="' + (r.mean_predicted * 200).toFixed(1) + '" cy="' + (200 - r.observed_rate * 200).toFixed(1) + '"/>';
  $("calibration").innerHTML = svg;
  $("calstats").textContent = !cal || cal.auc === null
    ? "insufficient data (" + ((cal && cal.labelled) || 0) + " labelled)"
    : "AUC " + fmt(cal.auc, 4) + " · Brier " + fmt(cal.brier, 4) + " · ECE " + fmt(cal.ece, 3) + " · " + cal.labelled + " labelled";
}

function render(s) {
  $("model").textContent = s.model_version ?? "–";
  $("uptime").textContent = Math.round(s.uptime_s) + " s";
  $("requests").textContent = s.requests_total;
  $("rps").textContent = fmt(s.throughput_rps);
  // The busier of the two scoring operations.
  const op = (s.latency.batchPredict?.count ?? 0) > (s.latency.predict?.count ?? 0) ? "batchPredict" : "predict";
  $("latop").textContent = op;
  const lat = s.latency[op] || {};
  for (const k of ["p50", "p95", "p99", "max"]) $(k).textContent = fmt(lat[k + "_ms"]);
  history.push({ p50: lat.p50_ms ?? null, p95: lat.p95_ms ?? null, p99: lat.p99_ms ?? null });
  drawLatency();
  drawCalibration(s.calibration);
  $("drift").innerHTML = (s.feature_drift || []).map((d) =>
    '<tr class="' + (d.drifted ? "drifted" : "") + '"><td>' + esc(d.feature) + "</td><td>" + esc(d.test) + "</td><td>" + fmt(d.statistic) + "</td><td>" + fmt(d.p_value) + "</td><td>" + fmt(d.window) + "</td></tr>").join("");
  $("effects").innerHTML = (s.effect_drift || []).map((d) =>
    '<tr class="' + (d.drifted ? "drifted" : "") + '"><td>' + esc(d.intervention) + "</td><td>" + fmt(d.statistic) + "</td><td>" + fmt(d.p_value) + "</td><td>" + fmt(d.mean_shift) + "</td></tr>").join("");
  const active = s.alerts || [];
  $("alerts").innerHTML = active.length === 0 ? '<li class="muted">none</li>' : active.map((a) =>
    '<li class="firing">' + esc(a.kind) + " · " + esc(a.subject) + " = " + fmt(a.value) + " (threshold " + fmt(a.threshold) + ")</li>").join("");
}

function renderEvent(e) {
  events.unshift(e);
  events.length = Math.min(events.length, 20);
  $("events").innerHTML = events.map((a) =>
    '<li class="' + a.state + '">' + new Date(a.at).toLocaleTimeString() + " " + esc(a.state) + ": " + esc(a.kind) + " · " + esc(a.subject) + "</li>").join("");
}

// tRPC over WebSocket: {id, method:"subscription", params:{path, input, lastEventId?}} ->
// {id, result:{type:"started"|"data"|"stopped", id?, data}}. Reconnects with backoff and
// resumes the alert stream from the last event id it saw.
function connect(attempt) {
  const ws = new WebSocket(new URL("/trpc", location.href).href.replace(/^http/, "ws"));
  ws.onopen = () => {
    attempt = 0;
    $("conn").textContent = "live"; $("conn").className = "up";
    ws.send(JSON.stringify({ id: 1, method: "subscription", params: { path: "monitoring.metrics", input: { interval_ms: 1000 } } }));
    const alertParams = { path: "monitoring.alerts", input: {} };
    if (lastAlertId !== undefined) alertParams.lastEventId = lastAlertId;
    ws.send(JSON.stringify({ id: 2, method: "subscription", params: alertParams }));
  };
  ws.onmessage = (m) => {
    if (m.data === "PING") { ws.send("PONG"); return; }
    const msg = JSON.parse(m.data);
    if (!msg.result || msg.result.type !== "data") return;
    if (msg.id === 1) render(msg.result.data);
    if (msg.id === 2) {
      const tracked = msg.result.id !== undefined;
      if (tracked) lastAlertId = msg.result.id;
      renderEvent(tracked ? msg.result.data.data : msg.result.data);
    }
  };
  ws.onclose = () => {
    $("conn").textContent = "reconnecting…"; $("conn").className = "down";
    setTimeout(() => connect(attempt + 1), Math.min(10000, 250 * 2 ** attempt));
  };
}
connect(0);
</script>
</body>
</html>
`;
