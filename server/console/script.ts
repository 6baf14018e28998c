// The console's browser script (plain JavaScript, no build step): tRPC over WebSocket, the charts
// (SVG with time and value axes), and the optional API key. Kept free of backquotes and dollar
// braces: it is embedded in a template literal.
export const CONSOLE_SCRIPT = /* js */ `
"use strict";
const $ = (id) => document.getElementById(id);
const isNum = (v) => typeof v === "number" && Number.isFinite(v);
const fmt = (v, d = 3) => (!isNum(v) ? "–" : Math.abs(v) >= 1000 || Number.isInteger(v) ? Math.round(v).toLocaleString("en-US") : v.toPrecision(d));
const pct = (v) => (!isNum(v) ? "–" : (v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1) + " %");
const money = (v) => (!isNum(v) ? "–" : v.toLocaleString("en-US", { maximumFractionDigits: 2, minimumFractionDigits: 2 }));
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const KEY = "churn-console-key";
const MAX_POINTS = 4000;
/** One point per snapshot: the server's history first, then every snapshot since the page opened. */
let points = [];
const events = [];
const pinned = new Set();
let lastAlertId;
let latest = null;

// ---- API key (for a server with access control): this tab only ----
const key = () => sessionStorage.getItem(KEY) || "";
const authHeaders = () => (key() ? { authorization: "Bearer " + key() } : {});
$("keybtn").onclick = () => { $("keyform").classList.toggle("open"); $("key").focus(); };
$("keyform").onsubmit = (e) => {
  e.preventDefault();
  sessionStorage.setItem(KEY, $("key").value.trim());
  $("key").value = "";
  $("keyform").classList.remove("open");
  reconnect();
};
$("keyclear").onclick = () => { sessionStorage.removeItem(KEY); $("keyform").classList.remove("open"); reconnect(); };

// ---- SVG helpers ----
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
const timeLabel = (t, span) => new Date(t).toLocaleTimeString([], span > 600000 ? { hour: "2-digit", minute: "2-digit" } : { hour: "2-digit", minute: "2-digit", second: "2-digit" });

/** A time-series chart: series [{ name, color, values: [{ t, v }] }], a y unit, an optional threshold. */
function timeChart(svg, series, opts) {
  const W = 600, H = Number(svg.getAttribute("viewBox").split(" ")[3]), L = 52, R = 10, T = 10, B = 24;
  const all = series.flatMap((s) => s.values).filter((p) => isNum(p.v));
  if (all.length === 0) {
    svg.innerHTML = '<text x="' + W / 2 + '" y="' + H / 2 + '" text-anchor="middle">' + esc(opts.empty || "no data yet") + "</text>";
    return;
  }
  const t0 = Math.min(...all.map((p) => p.t)), t1 = Math.max(t0 + 1000, ...all.map((p) => p.t));
  const yMax = niceMax(Math.max(opts.threshold && opts.showThreshold ? opts.threshold : 0, ...all.map((p) => p.v)) * 1.05);
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => H - B - (v / yMax) * (H - B - T);
  let out = "";
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    out += '<line class="grid" x1="' + L + '" x2="' + (W - R) + '" y1="' + y(v) + '" y2="' + y(v) + '"/>';
    out += '<text x="' + (L - 4) + '" y="' + (y(v) + 3) + '" text-anchor="end">' + fmt(v) + "</text>";
  }
  for (let i = 0; i <= 4; i++) {
    const t = t0 + ((t1 - t0) * i) / 4;
    out += '<text class="tick" x="' + x(t) + '" y="' + (H - 8) + '" text-anchor="' + (i === 0 ? "start" : i === 4 ? "end" : "middle") + '">' + timeLabel(t, t1 - t0) + "</text>";
  }
  out += '<line class="axis" x1="' + L + '" x2="' + L + '" y1="' + T + '" y2="' + (H - B) + '"/><line class="axis" x1="' + L + '" x2="' + (W - R) + '" y1="' + (H - B) + '" y2="' + (H - B) + '"/>';
  out += '<text x="' + 4 + '" y="' + (T + 2) + '">' + esc(opts.unit) + "</text>";
  if (opts.threshold && opts.threshold <= yMax) out += '<line x1="' + L + '" x2="' + (W - R) + '" y1="' + y(opts.threshold) + '" y2="' + y(opts.threshold) + '" stroke="var(--bad)" stroke-dasharray="5 4"/>';
  for (const s of series) {
    const pts = s.values.filter((p) => isNum(p.v)).map((p) => x(p.t).toFixed(1) + "," + y(p.v).toFixed(1));
    if (pts.length) out += '<polyline fill="none" stroke-width="2" stroke="' + s.color + '" points="' + pts.join(" ") + '"><title>' + esc(s.name) + "</title></polyline>";
  }
  svg.innerHTML = out;
}

/** Vertical bars over labelled bins: groups [{ color, values }], labels under every nth bar. */
function barChart(svg, labels, groups, opts) {
  const W = 600, H = Number(svg.getAttribute("viewBox").split(" ")[3]), L = 52, R = 10, T = 10, B = opts.rotate ? 48 : 24;
  const vals = groups.flatMap((g) => g.values).filter(isNum);
  if (vals.length === 0 || (opts.emptyWhenZero && vals.every((v) => v === 0))) {
    svg.innerHTML = '<text x="' + W / 2 + '" y="' + H / 2 + '" text-anchor="middle">' + esc(opts.empty || "no data yet") + "</text>";
    return;
  }
  const yMax = niceMax(Math.max(...vals));
  const y = (v) => H - B - (v / yMax) * (H - B - T);
  const slot = (W - L - R) / labels.length, bw = (slot * 0.8) / groups.length;
  let out = "";
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    out += '<line class="grid" x1="' + L + '" x2="' + (W - R) + '" y1="' + y(v) + '" y2="' + y(v) + '"/><text x="' + (L - 4) + '" y="' + (y(v) + 3) + '" text-anchor="end">' + (opts.percent ? Math.round(v * 100) + "%" : fmt(v)) + "</text>";
  }
  labels.forEach((label, i) => {
    groups.forEach((g, k) => {
      const v = g.values[i];
      if (!isNum(v)) return;
      const x0 = L + i * slot + slot * 0.1 + k * bw;
      out += '<rect class="bar" x="' + x0.toFixed(1) + '" width="' + Math.max(1, bw - 1).toFixed(1) + '" y="' + y(v).toFixed(1) + '" height="' + (H - B - y(v)).toFixed(1) + '" fill="' + g.color + '"><title>' + esc(label) + ": " + (opts.percent ? pct(v) : fmt(v)) + "</title></rect>";
    });
    if (i % (opts.every || 1) === 0) {
      const cx = L + i * slot + slot / 2;
      out += opts.rotate
        ? '<text x="' + cx + '" y="' + (H - B + 10) + '" text-anchor="end" transform="rotate(-35 ' + cx + " " + (H - B + 10) + ')">' + esc(label) + "</text>"
        : '<text x="' + cx + '" y="' + (H - 8) + '" text-anchor="middle">' + esc(label) + "</text>";
    }
  });
  out += '<line class="axis" x1="' + L + '" x2="' + L + '" y1="' + T + '" y2="' + (H - B) + '"/><line class="axis" x1="' + L + '" x2="' + (W - R) + '" y1="' + (H - B) + '" y2="' + (H - B) + '"/>';
  out += '<text x="4" y="' + (T + 2) + '">' + esc(opts.unit) + "</text>";
  svg.innerHTML = out;
}

function drawCalibration(cal) {
  const S = 300, L = 40, B = 34, T = 8, R = 8, w = S - L - R, h = S - T - B;
  const x = (v) => L + v * w, y = (v) => T + (1 - v) * h;
  let out = "";
  for (let i = 0; i <= 5; i++) {
    const v = i / 5;
    out += '<line class="grid" x1="' + x(v) + '" x2="' + x(v) + '" y1="' + T + '" y2="' + (T + h) + '"/><line class="grid" x1="' + L + '" x2="' + (L + w) + '" y1="' + y(v) + '" y2="' + y(v) + '"/>';
    out += '<text x="' + x(v) + '" y="' + (T + h + 12) + '" text-anchor="middle">' + v.toFixed(1) + '</text><text x="' + (L - 4) + '" y="' + (y(v) + 3) + '" text-anchor="end">' + v.toFixed(1) + "</text>";
  }
  out += '<line class="axis" x1="' + L + '" x2="' + L + '" y1="' + T + '" y2="' + (T + h) + '"/><line class="axis" x1="' + L + '" x2="' + (L + w) + '" y1="' + (T + h) + '" y2="' + (T + h) + '"/>';
  out += '<line id="diagonal" x1="' + x(0) + '" y1="' + y(0) + '" x2="' + x(1) + '" y2="' + y(1) + '" stroke="#9aa3b5" stroke-dasharray="4"/>';
  out += '<text x="' + (L + w / 2) + '" y="' + (S - 4) + '" text-anchor="middle">mean predicted probability</text>';
  out += '<text transform="rotate(-90)" x="' + -(T + h / 2) + '" y="10" text-anchor="middle">observed churn rate</text>';
  const rows = (cal && cal.reliability) || [];
  const pts = rows.filter((r) => r.count > 0 && isNum(r.mean_predicted) && isNum(r.observed_rate));
  const most = Math.max(1, ...pts.map((r) => r.count));
  if (pts.length) out += '<polyline fill="none" stroke="var(--p50)" stroke-width="1.5" points="' + pts.map((r) => x(r.mean_predicted).toFixed(1) + "," + y(r.observed_rate).toFixed(1)).join(" ") + '"/>';
  for (const r of pts) {
    const rad = 2.5 + 5 * Math.sqrt(r.count / most);
    out += '<circle class="bin" r="' + rad.toFixed(1) + '" fill="var(--p50)" fill-opacity="0.75" cx="' + x(r.mean_predicted).toFixed(1) + '" cy="' + y(r.observed_rate).toFixed(1) + '"><title>bin ' + r.bin + ": " + r.count + " labelled</title></circle>";
    out += '<text x="' + (x(r.mean_predicted) + rad + 2).toFixed(1) + '" y="' + (y(r.observed_rate) - 3).toFixed(1) + '">' + r.count + "</text>";
  }
  if (!pts.length) out += '<text x="' + (L + w / 2) + '" y="' + (T + h / 2) + '" text-anchor="middle">no labelled outcomes yet</text>';
  $("calibration").innerHTML = out;
  $("reliability").innerHTML = rows.map((r) => "<tr><td>" + (r.bin / 10).toFixed(1) + "–" + ((r.bin + 1) / 10).toFixed(1) + '</td><td class="n">' + fmt(r.mean_predicted) + '</td><td class="n">' + fmt(r.observed_rate) + '</td><td class="n">' + r.count + "</td></tr>").join("");
  const labelled = (cal && cal.labelled) || 0;
  $("calstats").textContent = !cal || cal.auc === null
    ? (labelled ? "insufficient data for AUC: " + labelled + " labelled, " + cal.positives + " churned (200 of each class needed)" + (cal.brier !== null ? " · Brier " + fmt(cal.brier, 4) + " · ECE " + fmt(cal.ece, 3) : "") : "no labelled outcomes yet")
    : "AUC " + fmt(cal.auc, 4) + " · Brier " + fmt(cal.brier, 4) + " · ECE " + fmt(cal.ece, 3) + " · " + labelled + " labelled";
}

function drawHistograms(s) {
  const hs = (s.feature_histograms || []).filter((h) => h.drifted || pinned.has(h.feature));
  if (hs.length === 0) {
    $("histograms").innerHTML = '<p class="muted">no drifted inputs' + ((s.feature_histograms || []).length ? " (click a feature above to compare it)" : "") + "</p>";
    return;
  }
  $("histograms").innerHTML = hs.map((h) => '<figure data-feature="' + esc(h.feature) + '"><figcaption class="' + (h.drifted ? "bad" : "") + '">' + esc(h.feature) + (h.drifted ? " · drifted" : "") + '</figcaption><svg viewBox="0 0 600 200"></svg></figure>').join("");
  hs.forEach((h) => {
    const svg = $("histograms").querySelector('figure[data-feature="' + CSS.escape(h.feature) + '"] svg');
    barChart(svg, h.bins.map((b) => b.label), [{ color: "var(--ref)", values: h.bins.map((b) => b.reference) }, { color: "var(--live)", values: h.bins.map((b) => b.live) }], { unit: "share", percent: true, rotate: true, empty: "no live values yet" });
  });
}

/** Realized uplift with its interval (dot and whisker) beside the forest's predicted reduction (bar), per row. */
function drawUpliftBars(svg, rows) {
  const W = 600, H = 220, L = 52, R = 10, T = 10, B = 24;
  const shown = rows.filter((r) => isNum(r.predicted_reduction) || isNum(r.uplift));
  if (shown.length === 0) {
    svg.innerHTML = '<text x="' + W / 2 + '" y="' + H / 2 + '" text-anchor="middle">too few labelled treated and holdout customers yet</text>';
    return;
  }
  const vals = shown.flatMap((r) => [r.predicted_reduction, r.ci_lower, r.ci_upper, 0]).filter(isNum);
  const top = niceMax(Math.max(...vals)), bottom = Math.min(0, ...vals) < 0 ? -niceMax(-Math.min(...vals)) : 0;
  const y = (v) => T + ((top - v) / (top - bottom)) * (H - T - B);
  const slot = (W - L - R) / shown.length;
  let out = "";
  for (let i = 0; i <= 4; i++) {
    const v = bottom + ((top - bottom) * i) / 4;
    out += '<line class="grid" x1="' + L + '" x2="' + (W - R) + '" y1="' + y(v) + '" y2="' + y(v) + '"/><text x="' + (L - 4) + '" y="' + (y(v) + 3) + '" text-anchor="end">' + fmt(v, 2) + "</text>";
  }
  out += '<line class="axis" x1="' + L + '" x2="' + (W - R) + '" y1="' + y(0) + '" y2="' + y(0) + '"/><line class="axis" x1="' + L + '" x2="' + L + '" y1="' + T + '" y2="' + (H - B) + '"/>';
  shown.forEach((r, i) => {
    const cx = L + i * slot + slot / 2, bw = Math.min(40, slot * 0.35);
    if (isNum(r.predicted_reduction)) {
      const y0 = y(Math.max(0, r.predicted_reduction)), y1 = y(Math.min(0, r.predicted_reduction));
      out += '<rect class="predicted" x="' + (cx - bw - 2).toFixed(1) + '" width="' + bw.toFixed(1) + '" y="' + y0.toFixed(1) + '" height="' + Math.max(1, y1 - y0).toFixed(1) + '" fill="var(--ref)"><title>' + esc(r.label) + " predicted " + fmt(r.predicted_reduction) + "</title></rect>";
    }
    if (isNum(r.uplift)) {
      const x = cx + bw / 2 + 2;
      out += '<line x1="' + x + '" x2="' + x + '" y1="' + y(r.ci_lower).toFixed(1) + '" y2="' + y(r.ci_upper).toFixed(1) + '" stroke="var(--live)" stroke-width="2"/>';
      out += '<circle class="realized" cx="' + x + '" cy="' + y(r.uplift).toFixed(1) + '" r="4" fill="var(--live)"><title>' + esc(r.label) + " realized " + fmt(r.uplift) + " [" + fmt(r.ci_lower) + ", " + fmt(r.ci_upper) + "]</title></circle>";
    }
    out += '<text x="' + cx + '" y="' + (H - 8) + '" text-anchor="middle">' + esc(r.label) + "</text>";
  });
  out += '<text x="4" y="' + (T + 2) + '">points</text>';
  svg.innerHTML = out;
}

/** The Qini curve: prevented churns per labelled customer against the share of customers, best predicted first. */
function drawQini(svg, qini) {
  const W = 600, H = 220, L = 52, R = 10, T = 10, B = 24;
  if (!qini || qini.length < 2) {
    svg.innerHTML = '<text x="' + W / 2 + '" y="' + H / 2 + '" text-anchor="middle">too few labelled treated and holdout customers yet</text>';
    return;
  }
  const vals = qini.map((p) => p.prevented);
  const top = niceMax(Math.max(0, ...vals)), bottom = Math.min(...vals) < 0 ? -niceMax(-Math.min(...vals)) : 0;
  const x = (f) => L + f * (W - L - R), y = (v) => T + ((top - v) / (top - bottom)) * (H - T - B);
  let out = "";
  for (let i = 0; i <= 4; i++) {
    const v = bottom + ((top - bottom) * i) / 4;
    out += '<line class="grid" x1="' + L + '" x2="' + (W - R) + '" y1="' + y(v) + '" y2="' + y(v) + '"/><text x="' + (L - 4) + '" y="' + (y(v) + 3) + '" text-anchor="end">' + fmt(v, 2) + "</text>";
    out += '<text x="' + x(i / 4) + '" y="' + (H - 8) + '" text-anchor="middle">' + i * 25 + "%</text>";
  }
  out += '<line class="axis" x1="' + L + '" x2="' + (W - R) + '" y1="' + y(0) + '" y2="' + y(0) + '"/><line class="axis" x1="' + L + '" x2="' + L + '" y1="' + T + '" y2="' + (H - B) + '"/>';
  const last = qini[qini.length - 1];
  out += '<line x1="' + x(0) + '" y1="' + y(0) + '" x2="' + x(last.fraction) + '" y2="' + y(last.prevented) + '" stroke="var(--ref)" stroke-dasharray="5 4"/>';
  out += '<polyline id="qiniline" fill="none" stroke="var(--live)" stroke-width="2" points="' + qini.map((p) => x(p.fraction).toFixed(1) + "," + y(p.prevented).toFixed(1)).join(" ") + '"/>';
  out += '<text x="4" y="' + (T + 2) + '">prevented</text>';
  svg.innerHTML = out;
}

function drawUplift(u) {
  if (!u) return;
  const pv = u.policy_value || {};
  $("upliftstats").textContent = (isNum(u.holdout_fraction) ? "holdout " + pct(u.holdout_fraction) : "holdout not reported")
    + " · labelled " + fmt(u.labelled_treated) + " treated, " + fmt(u.labelled_holdout) + " holdout"
    + (isNum(pv.per_customer) ? " · realized value " + money(pv.per_customer) + " per customer acted on [" + money(pv.ci_lower) + ", " + money(pv.ci_upper) + "]" : "");
  const rows = [{ label: "overall", ...u.overall, labelled: u.labelled_treated + u.labelled_holdout }, ...(u.by_intervention || []).map((e) => ({ label: e.intervention, ...e }))];
  drawUpliftBars($("upliftbars"), rows);
  $("uplift").innerHTML = rows.filter((r) => r.labelled > 0).map((r) => {
    const off = isNum(r.predicted_reduction) && isNum(r.ci_lower) && (r.predicted_reduction < r.ci_lower || r.predicted_reduction > r.ci_upper);
    return '<tr class="' + (off ? "drifted" : "") + '"><td>' + esc(r.label) + '</td><td class="n">' + fmt(r.labelled_treated) + '</td><td class="n">' + fmt(r.labelled_holdout) + '</td><td class="n">' + pct(r.churn_treated) + '</td><td class="n">' + pct(r.churn_holdout)
      + '</td><td class="n">' + fmt(r.uplift) + '</td><td class="n">' + (isNum(r.ci_lower) ? "[" + fmt(r.ci_lower) + ", " + fmt(r.ci_upper) + "]" : "–") + '</td><td class="n">' + fmt(r.predicted_reduction) + "</td></tr>";
  }).join("") || '<tr><td colspan="8" class="muted">no labelled treated or holdout customers yet</td></tr>';
  drawQini($("qini"), u.qini);
}

// ---- the snapshot ----
function pointOf(s) {
  const lat = {};
  for (const op in s.latency) lat[op] = { p50: s.latency[op].p50_ms, p95: s.latency[op].p95_ms, p99: s.latency[op].p99_ms };
  return { t: Date.parse(s.at), rps: s.throughput_rps, lat, spend: s.interventions ? s.interventions.spend : null, interventions: s.interventions ? s.interventions.count : null, pending: s.workflow ? s.workflow.pending : null, dead: s.workflow ? s.workflow.dead : null };
}
function historyPoint(h) {
  const lat = {};
  for (const op in h.latency) lat[op] = { p50: h.latency[op].p50_ms, p95: h.latency[op].p95_ms, p99: h.latency[op].p99_ms };
  return { t: Date.parse(h.at), rps: h.throughput_rps, lat, spend: h.spend, interventions: h.interventions, pending: h.workflow_pending, dead: h.workflow_dead };
}
function addPoints(list) {
  const byTime = new Map(points.map((p) => [p.t, p]));
  for (const p of list) byTime.set(p.t, p);
  points = [...byTime.values()].sort((a, b) => a.t - b.t).slice(-MAX_POINTS);
}

function render(s) {
  latest = s;
  addPoints([...(s.history || []).map(historyPoint), pointOf(s)]);
  $("model").textContent = s.model_version ?? "–";
  $("uptime").textContent = s.uptime_s < 120 ? Math.round(s.uptime_s) + " s" : s.uptime_s < 7200 ? Math.round(s.uptime_s / 60) + " min" : (s.uptime_s / 3600).toFixed(1) + " h";
  $("requests").textContent = fmt(s.requests_total);
  $("rps").textContent = fmt(s.throughput_rps);
  // The busier of the two scoring operations.
  const op = (s.latency.batchPredict?.count ?? 0) > (s.latency.predict?.count ?? 0) ? "batchPredict" : "predict";
  $("latop").textContent = op;
  const lat = s.latency[op] || {};
  for (const k of ["p50", "p95", "p99", "max"]) $(k).textContent = fmt(lat[k + "_ms"]);
  const line = (k, c) => ({ name: k, color: c, values: points.map((p) => ({ t: p.t, v: p.lat[op] ? p.lat[op][k] : null })) });
  timeChart($("latency"), [line("p50", "var(--p50)"), line("p95", "var(--p95)"), line("p99", "var(--p99)")], { unit: "ms", threshold: 200, empty: "no requests yet" });
  $("latency").setAttribute("data-points", String(points.length));
  timeChart($("throughput"), [{ name: "req/s", color: "var(--p50)", values: points.map((p) => ({ t: p.t, v: p.rps })) }], { unit: "req/s", empty: "no requests in the last 60 s" });
  drawCalibration(s.calibration);

  $("drift").innerHTML = (s.feature_drift || []).map((d) =>
    '<tr data-feature="' + esc(d.feature) + '" class="' + (d.drifted ? "drifted" : "") + '"><td>' + esc(d.feature) + "</td><td>" + esc(d.test) + '</td><td class="n">' + fmt(d.statistic) + '</td><td class="n">' + fmt(d.p_value) + '</td><td class="n">' + fmt(d.window) + "</td></tr>").join("") || '<tr><td colspan="5" class="muted">no bundle reference</td></tr>';
  drawHistograms(s);
  $("effects").innerHTML = (s.effect_drift || []).map((d) =>
    '<tr class="' + (d.drifted ? "drifted" : "") + '"><td>' + esc(d.intervention) + '</td><td class="n">' + fmt(d.statistic) + '</td><td class="n">' + fmt(d.p_value) + '</td><td class="n">' + fmt(d.mean_shift) + '</td><td class="n">' + fmt(d.window) + "</td></tr>").join("") || '<tr><td colspan="5" class="muted">no reference effects</td></tr>';

  const bins = (s.scores && s.scores.bins) || [];
  barChart($("scores"), bins.map((b) => b.lower.toFixed(2)), [{ color: "var(--p50)", values: bins.map((b) => b.count) }], { unit: "customers", every: 4, empty: "no predictions yet", emptyWhenZero: true });

  const iv = s.interventions || { by_intervention: [] };
  $("interventions").innerHTML = iv.by_intervention.map((t) => "<tr><td>" + esc(t.intervention) + '</td><td class="n">' + fmt(t.count) + '</td><td class="n">' + money(t.spend) + '</td><td class="n">' + money(t.expected_value) + "</td></tr>").join("")
    + (iv.by_intervention.length ? '<tr><td><b>total</b></td><td class="n"><b>' + fmt(iv.count) + '</b></td><td class="n"><b>' + money(iv.spend) + "</b></td><td></td></tr>" : '<tr><td colspan="4" class="muted">none recommended yet</td></tr>');
  timeChart($("spend"), [{ name: "spend", color: "var(--p95)", values: points.map((p) => ({ t: p.t, v: p.spend })) }], { unit: "spend", empty: "no spend yet" });

  const wf = s.workflow;
  $("workflow").innerHTML = !wf ? '<span class="muted">not reported</span>'
    : (wf.url_configured ? "" : '<p class="muted">no webhook configured: entries are recorded for a later start with one</p>')
      + '<table><tbody><tr><td>pending</td><td class="n">' + fmt(wf.pending) + '</td><td>retrying</td><td class="n">' + fmt(wf.retrying) + "</td></tr>"
      + '<tr><td>delivered</td><td class="n">' + fmt(wf.delivered) + '</td><td>dead letters</td><td class="n' + (wf.dead ? " bad" : "") + '">' + fmt(wf.dead) + "</td></tr>"
      + '<tr><td>recorded</td><td class="n">' + fmt(wf.recorded) + '</td><td>oldest pending</td><td class="n">' + (wf.oldest_pending_s === null ? "–" : fmt(wf.oldest_pending_s) + " s") + "</td></tr></tbody></table>";
  timeChart($("pending"), [{ name: "pending", color: "var(--p95)", values: points.map((p) => ({ t: p.t, v: p.pending })) }, { name: "dead", color: "var(--bad)", values: points.map((p) => ({ t: p.t, v: p.dead })) }], { unit: "entries", empty: "no workflow entries" });

  drawUplift(s.uplift);

  $("inputs").innerHTML = (s.inputs || []).map((f) => "<tr><td>" + esc(f.feature) + '</td><td class="n' + (f.imputed_rate ? " bad" : "") + '">' + pct(f.imputed_rate) + '</td><td class="n' + (f.unknown_rate ? " bad" : "") + '">' + pct(f.unknown_rate) + '</td><td class="n">' + fmt(f.window) + "</td></tr>").join("") || '<tr><td colspan="4" class="muted">no requests yet</td></tr>';

  const active = s.alerts || [];
  $("alerts").innerHTML = active.length === 0 ? '<li class="muted">none firing</li>' : active.map((a) =>
    '<li class="firing">' + esc(a.kind) + " · " + esc(a.subject) + " = " + fmt(a.value) + " (threshold " + fmt(a.threshold) + ") since " + new Date(a.since).toLocaleTimeString() + "</li>").join("");
}

$("drift").onclick = (e) => {
  const row = e.target.closest("tr[data-feature]");
  if (!row) return;
  const f = row.getAttribute("data-feature");
  if (pinned.has(f)) pinned.delete(f); else pinned.add(f);
  if (latest) drawHistograms(latest);
};

function renderEvent(e) {
  events.unshift(e);
  events.length = Math.min(events.length, 30);
  $("events").innerHTML = events.map((a) =>
    '<li class="' + a.state + '">' + new Date(a.at).toLocaleTimeString() + " " + esc(a.state) + ": " + esc(a.kind) + " · " + esc(a.subject) + " (" + fmt(a.value) + ")</li>").join("");
}

function loadHealth() {
  fetch(new URL("/health", location.href), { headers: authHeaders() }).then((r) => r.ok ? r.json() : null).then((h) => {
    if (h && h.bundle) $("model").title = h.bundle.name + " · interventions: " + h.bundle.interventions.join(", ") + " · " + h.runtime;
  }).catch(() => {});
}

// tRPC over WebSocket: {id, method:"subscription", params:{path, input, lastEventId?}} ->
// {id, result:{type:"started"|"data"|"stopped", id?, data}}. With a key, the connection opens with
// tRPC's connectionParams message. Reconnects with backoff and resumes the alert stream from the
// last event id it saw; the first metrics snapshot brings the server's history again.
let socket = null;
let retry = null;
function connect(attempt) {
  const url = new URL("/trpc", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  if (key()) url.searchParams.set("connectionParams", "1");
  const ws = new WebSocket(url.href);
  socket = ws;
  ws.onopen = () => {
    attempt = 0;
    $("conn").textContent = "live"; $("conn").className = "up";
    if (key()) ws.send(JSON.stringify({ method: "connectionParams", data: { authorization: "Bearer " + key() } }));
    ws.send(JSON.stringify({ id: 1, method: "subscription", params: { path: "monitoring.metrics", input: { interval_ms: 1000 } } }));
    const alertParams = { path: "monitoring.alerts", input: {} };
    if (lastAlertId !== undefined) alertParams.lastEventId = lastAlertId;
    ws.send(JSON.stringify({ id: 2, method: "subscription", params: alertParams }));
    loadHealth();
  };
  ws.onmessage = (m) => {
    if (m.data === "PING") { ws.send("PONG"); return; }
    const msg = JSON.parse(m.data);
    if (msg.error) { $("conn").textContent = "refused: " + (msg.error.message || "error") + (key() ? "" : " (a key may be needed)"); $("conn").className = "down"; return; }
    if (!msg.result || msg.result.type !== "data") return;
    if (msg.id === 1) render(msg.result.data);
    if (msg.id === 2) {
      const tracked = msg.result.id !== undefined;
      if (tracked) lastAlertId = msg.result.id;
      renderEvent(tracked ? msg.result.data.data : msg.result.data);
    }
  };
  ws.onclose = (e) => {
    if (socket !== ws) return;
    $("conn").textContent = e.code === 1008 || e.code === 4401 || e.code === 4403 ? "refused (check the key)" : "reconnecting…";
    $("conn").className = "down";
    retry = setTimeout(() => connect(attempt + 1), Math.min(10000, 250 * 2 ** attempt));
  };
}
function reconnect() {
  clearTimeout(retry);
  const old = socket;
  socket = null;
  if (old) old.close();
  connect(0);
}
connect(0);
`;
