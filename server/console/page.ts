// The live console served at GET /console: one self-contained page (no build step, no
// dependencies) that speaks tRPC's WebSocket protocol directly to the same endpoint the typed
// client uses, subscribing to `monitoring.metrics` (whose first snapshot brings the server's
// recent history) and `monitoring.alerts`. The script is in script.ts.
import { CONSOLE_SCRIPT } from "./script.ts";

export const CONSOLE_HTML = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Churn recommender — live console</title>
<style>
  :root { --fg:#1d2330; --muted:#6b7385; --line:#dde1ea; --bad:#c62828; --ok:#2e7d32; --p50:#1565c0; --p95:#ef6c00; --p99:#c62828; --ref:#9aa3b5; --live:#1565c0; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: #f6f7fa; }
  header { display: flex; gap: 8px 20px; align-items: baseline; padding: 10px 16px; background: #fff; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
  header h1 { font-size: 16px; margin: 0; }
  .stat b, td, .num { font-variant-numeric: tabular-nums; }
  #conn { margin-left: auto; font-weight: 600; }
  #conn.up { color: var(--ok); } #conn.down { color: var(--bad); }
  #keyform { display: none; gap: 6px; padding: 8px 16px; background: #fff8e1; border-bottom: 1px solid var(--line); flex-wrap: wrap; align-items: center; }
  #keyform.open { display: flex; }
  button { font: inherit; padding: 2px 10px; border: 1px solid var(--line); border-radius: 4px; background: #fff; cursor: pointer; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 440px), 1fr)); gap: 14px; padding: 14px 16px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; min-width: 0; }
  h2 { font-size: 14px; margin: 0 0 6px; }
  h2 small { font-weight: 400; color: var(--muted); }
  .scroll { overflow-x: auto; }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th.n, td.n { text-align: right; }
  tr.drifted td, li.firing, .bad { color: var(--bad); font-weight: 600; }
  tr[data-feature] { cursor: pointer; }
  svg { width: 100%; height: auto; display: block; overflow: visible; }
  svg text { font: 10px system-ui, sans-serif; fill: var(--muted); }
  svg .axis { stroke: #b9c0cf; } svg .grid { stroke: #eef0f4; }
  .legend span { margin-right: 12px; white-space: nowrap; }
  .muted { color: var(--muted); }
  ul { margin: 0; padding-left: 18px; }
  .hists { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 260px), 1fr)); gap: 8px; }
  figure { margin: 0; } figcaption { font-weight: 600; font-size: 13px; }
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
  <button id="keybtn" type="button" title="API key, for a server with access control">key</button>
</header>
<form id="keyform">
  <label for="key">API key (kept in this tab only, sent as a Bearer token)</label>
  <input id="key" type="password" autocomplete="off" size="32">
  <button type="submit">use</button><button type="button" id="keyclear">forget</button>
</form>
<main>
  <section>
    <h2><span id="latop">predict</span> latency <small>ms, 60 s sliding window, per snapshot</small></h2>
    <svg id="latency" viewBox="0 0 600 230" data-points="0"></svg>
    <div class="legend"><span style="color:var(--p50)">p50 <b id="p50">–</b></span><span style="color:var(--p95)">p95 <b id="p95">–</b></span><span style="color:var(--p99)">p99 <b id="p99">–</b></span><span>max <b id="max">–</b> ms</span><span class="muted">dashed: 200 ms alert</span></div>
  </section>
  <section>
    <h2>throughput <small>requests per second</small></h2>
    <svg id="throughput" viewBox="0 0 600 230"></svg>
  </section>
  <section>
    <h2>calibration <small>observed churn rate vs mean predicted probability, per bin</small></h2>
    <svg id="calibration" viewBox="0 0 300 300" style="max-width:340px"></svg>
    <div id="calstats" class="muted">no labelled outcomes yet</div>
    <div class="scroll"><table><thead><tr><th>bin</th><th class="n">mean predicted</th><th class="n">observed</th><th class="n">count</th></tr></thead><tbody id="reliability"></tbody></table></div>
  </section>
  <section>
    <h2>alerts</h2>
    <ul id="alerts"><li class="muted">none firing</li></ul>
    <h2 style="margin-top:10px">alert events <small>since the page opened, and missed ones after a reconnect</small></h2>
    <ul id="events"><li class="muted">none yet</li></ul>
  </section>
  <section>
    <h2>feature drift <small>live window vs the bundle's reference; click a row for its histogram</small></h2>
    <div class="scroll"><table><thead><tr><th>feature</th><th>test</th><th class="n">statistic</th><th class="n">p-value</th><th class="n">window</th></tr></thead><tbody id="drift"></tbody></table></div>
  </section>
  <section>
    <h2>drifted inputs <small>share per bin: reference (grey) vs live (blue)</small></h2>
    <div id="histograms" class="hists"><p class="muted">no drifted inputs</p></div>
  </section>
  <section>
    <h2>treatment-effect drift</h2>
    <div class="scroll"><table><thead><tr><th>intervention</th><th class="n">KS D</th><th class="n">p-value</th><th class="n">mean shift</th><th class="n">window</th></tr></thead><tbody id="effects"></tbody></table></div>
  </section>
  <section>
    <h2>churn score distribution <small>customers per probability bin, live window</small></h2>
    <svg id="scores" viewBox="0 0 600 230"></svg>
  </section>
  <section>
    <h2>interventions and spend <small>since start</small></h2>
    <div class="scroll"><table><thead><tr><th>intervention</th><th class="n">count</th><th class="n">spend</th><th class="n">expected value</th></tr></thead><tbody id="interventions"></tbody></table></div>
    <svg id="spend" viewBox="0 0 600 200"></svg>
  </section>
  <section>
    <h2>workflow delivery <small>webhook outbox</small></h2>
    <div id="workflow" class="muted">not reported</div>
    <svg id="pending" viewBox="0 0 600 200"></svg>
  </section>
  <section>
    <h2>holdout and realized uplift <small>churn of treated vs holdout customers of the same recommendation</small></h2>
    <div id="upliftstats" class="muted">no holdout outcomes yet</div>
    <svg id="upliftbars" viewBox="0 0 600 220"></svg>
    <div class="legend"><span style="color:var(--ref)">■ predicted reduction (forest)</span><span style="color:var(--live)">● realized uplift, 95% interval (Newcombe)</span></div>
    <div class="scroll"><table><thead><tr><th>intervention</th><th class="n">treated</th><th class="n">holdout</th><th class="n">churn treated</th><th class="n">churn holdout</th><th class="n">realized</th><th class="n">95% interval</th><th class="n">predicted</th></tr></thead><tbody id="uplift"></tbody></table></div>
  </section>
  <section>
    <h2>uplift (Qini) curve <small>churns prevented among the treated, per labelled customer, by share ranked on predicted reduction; dashed: a random ranking</small></h2>
    <svg id="qini" viewBox="0 0 600 220"></svg>
  </section>
  <section>
    <h2>inputs <small>share imputed and unknown categories, live window</small></h2>
    <div class="scroll"><table><thead><tr><th>field</th><th class="n">imputed</th><th class="n">unknown category</th><th class="n">window</th></tr></thead><tbody id="inputs"></tbody></table></div>
  </section>
</main>
<script>
${CONSOLE_SCRIPT}
</script>
</body>
</html>
`;
