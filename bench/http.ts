// The service over HTTP, next to a bare node:http hello-world served the same way in the same
// run: /predict over REST with keep-alive at a constant 2,000 req/s (latency) and flat out with
// autocannon (throughput), with and without the monitoring/log observers; the tRPC client;
// /batch-predict customers/s.
// Servers run in child processes so the load generator does not share their event loop.
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
// @ts-expect-error autocannon ships no type declarations
import autocannon from "autocannon";
import { createChurnClient } from "../client/index.ts";
import { readCsvRecords } from "../test/helpers/customers.ts";
import { percentiles, printTable, type BenchRow } from "./table.ts";

const SEED = JSON.stringify({ customer_id: "CUST-001", tenure: 12, monthly_charges: 70.5, contract_type: "Month-to-month", internet_service: "Fiber optic" });
const HELLO = `require("node:http").createServer((q, s) => { q.resume(); q.on("end", () => s.end('{"ok":true}')); }).listen(0, "127.0.0.1", function () { console.log("listening on http://127.0.0.1:" + this.address().port); });`;

async function start(args: string[], env: Record<string, string> = {}): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...env } });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(d.toString());
      if (m) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`server exited (${code})`)));
  });
  return { url, child };
}

function service(monitoring: "on" | "off") {
  return start(["dist/client/cli.js", "serve", "--port", "0", "--data-dir", mkdtempSync(join(tmpdir(), "bench-")), "--monitoring", monitoring]);
}

interface LoadResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  errors: number;
  non2xx: number;
}

async function load(url: string): Promise<LoadResult> {
  return autocannon({ url, method: "POST", headers: { "content-type": "application/json" }, body: SEED, connections: 50, duration: 5 });
}

/**
 * Open-loop constant rate: requests leave on schedule whatever the answers do (autocannon's
 * `overallRate` sends in bursts, which alone puts the hello-world's p99 above 10 ms here).
 * A 2 s warm-up at the same rate comes first.
 */
async function constantRate(url: string, rate: number, seconds: number): Promise<{ p50: number; p99: number; max: number; errors: number }> {
  const u = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const run = (secs: number) =>
    new Promise<number[]>((resolve) => {
      const total = rate * secs;
      const latencies: number[] = [];
      let sent = 0;
      let done = 0;
      const start = performance.now();
      const finish = () => ++done === total && resolve(latencies);
      const tick = () => {
        const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
        for (; sent < due; sent++) {
          const t0 = performance.now();
          const req = http.request(
            { host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(SEED) } },
            (res) => {
              res.resume();
              res.on("end", () => {
                latencies.push(res.statusCode === 200 ? performance.now() - t0 : Infinity);
                finish();
              });
            },
          );
          req.on("error", () => {
            latencies.push(Infinity);
            finish();
          });
          req.end(SEED);
        }
        if (sent < total) setImmediate(tick);
      };
      tick();
    });
  await run(2);
  const latencies = (await run(seconds)).sort((a, b) => a - b);
  agent.destroy();
  const errors = latencies.filter((x) => x === Infinity).length;
  const p = percentiles(latencies);
  return { p50: p.p50, p99: p.p99, max: latencies[latencies.length - 1], errors };
}

function row(label: string, r: LoadResult, base?: LoadResult): BenchRow {
  return {
    target: label, "req/s": Math.round(r.requests.average), "p50 ms": r.latency.p50, "p99 ms": r.latency.p99,
    errors: r.errors + r.non2xx, "vs hello-world": base ? `${(r.requests.average / base.requests.average).toFixed(2)}x` : "",
  };
}

export default async function run(): Promise<void> {
  const hello = await start(["-e", HELLO]);
  const on = await service("on");
  const off = await service("off");
  try {
    const fixed: BenchRow[] = [];
    for (const [label, url] of [["hello-world", `${hello.url}/`], ["POST /predict", `${on.url}/predict`], ["POST /predict, monitoring off", `${off.url}/predict`]]) {
      const r = await constantRate(url, 2000, 5);
      fixed.push({ target: label, "p50 ms": r.p50, "p99 ms": r.p99, "max ms": r.max, errors: r.errors });
    }
    printTable("HTTP at a constant 2,000 req/s (open loop, keep-alive, 5 s after a 2 s warm-up)", fixed);
    const rows: BenchRow[] = [];
    const h = await load(`${hello.url}/`);
    rows.push(row("hello-world", h));
    rows.push(row("POST /predict", await load(`${on.url}/predict`), h));
    rows.push(row("POST /predict, monitoring off", await load(`${off.url}/predict`), h));
    printTable("HTTP flat out: autocannon, 50 connections, keep-alive, servers in child processes", rows);

    // The typed client: 32 calls in flight, batched by httpBatchLink, for 5 s.
    const client = createChurnClient(on.url);
    const seed = JSON.parse(SEED);
    const samples: number[] = [];
    const end = performance.now() + 5000;
    let n = 0;
    await Promise.all(
      Array.from({ length: 32 }, async (_, w) => {
        while (performance.now() < end) {
          const t0 = performance.now();
          await client.predict.mutate({ ...seed, customer_id: `w${w}-${n++}` });
          samples.push(performance.now() - t0);
        }
      }),
    );
    client.close();
    const p = percentiles(samples);
    printTable("tRPC client (httpBatchLink), 32 concurrent calls", [{ "calls/s": Math.round(samples.length / 5), "p50 ms": p.p50, "p99 ms": p.p99 }]);

    const customers = readCsvRecords(1000);
    const t0 = performance.now();
    let scored = 0;
    while (performance.now() - t0 < 5000) {
      const res = await fetch(`${on.url}/batch-predict`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ customers }) });
      scored += (await res.json()).results.length;
    }
    printTable("POST /batch-predict, 1,000 customers a call", [{ "customers/s": Math.round(scored / ((performance.now() - t0) / 1000)) }]);
    console.log("\nTargets: p99 <= 2 ms at 2,000 req/s; throughput >= 0.5x the hello-world.");
  } finally {
    for (const s of [hello, on, off]) s.child.kill("SIGTERM");
  }
}
