// The service over HTTP, next to a bare node:http hello-world served the same way in the same
// run: single predictions over REST (keep-alive) at a constant 2,000 req/s and through the typed
// tRPC client at a constant rate (latency), flat out with autocannon (throughput), with and
// without the monitoring/log observers; /batch-predict customers/s.
// The tRPC client (httpBatchLink over fetch) costs its caller 0.7-0.9 ms of CPU per call on
// Node 20, so at 2,000 calls/s the load generator alone would fill a core and measure
// itself: it runs at TRPC_RATE, and every row shows the generator's own CPU per request.
// Every request is a distinct customer (the seed example's features): each one at risk gets a
// recommendation, a cooldown and a workflow entry, as real traffic would. Servers run in child
// processes so the load generator does not share their event loop; their CPU time per request is
// read from /proc (Linux) around each measured run.
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
// @ts-expect-error autocannon ships no type declarations
import autocannon from "autocannon";
import { createChurnClient } from "../client/index.ts";
import { readCsvRecords } from "../test/helpers/customers.ts";
import { SEED_REQUEST } from "../test/helpers/server.ts";
import { percentiles, printTable, type BenchRow } from "./table.ts";

const seedBody = (n: number | string) => JSON.stringify({ ...SEED_REQUEST, customer_id: `CUST-${n}` });
const HELLO = `require("node:http").createServer((q, s) => { q.resume(); q.on("end", () => s.end('{"ok":true}')); }).listen(0, "127.0.0.1", function () { console.log("listening on http://127.0.0.1:" + this.address().port); });`;
const RATE = 2000;
const TRPC_RATE = 500;
const RUNS = 3;

interface Server {
  url: string;
  child: ChildProcess;
}

async function start(args: string[]): Promise<Server> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  let seen = "";
  const url = await new Promise<string>((resolve, reject) => {
    const find = (d: Buffer) => {
      const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec((seen += d.toString()));
      if (!m) return;
      // The server's access log goes on (as in production); it is drained, not parsed, from here on.
      child.stdout!.off("data", find);
      child.stdout!.resume();
      resolve(m[1]);
    };
    child.stdout!.on("data", find);
    child.once("exit", (code) => reject(new Error(`server exited (${code})`)));
  });
  return { url, child };
}

function service(monitoring: "on" | "off"): Promise<Server> {
  return start(["dist/cli/main.js", "serve", "--port", "0", "--data-dir", mkdtempSync(join(tmpdir(), "bench-")), "--monitoring", monitoring]);
}

/** CPU seconds (user + system, all threads) the process has used, where /proc tells. */
function cpuSeconds(pid: number): number | null {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return null;
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th,
  // in clock ticks (100 a second on Linux).
  const text = readFileSync(stat, "utf8");
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Runs `fn` and returns its result with the server's CPU µs per request over it. */
async function withCpu<T>(server: Server, requests: (r: T) => number, fn: () => Promise<T>): Promise<T & { cpuUs: number | null }> {
  const before = cpuSeconds(server.child.pid!);
  const r = await fn();
  const after = cpuSeconds(server.child.pid!);
  return { ...r, cpuUs: before === null || after === null ? null : Math.round(((after - before) * 1e6) / requests(r)) };
}

/** Sends one request; resolves true on success. */
type Send = (n: number) => Promise<boolean>;

function restSender(url: string): { send: Send; close: () => void } {
  const u = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const send: Send = (n) =>
    new Promise((resolve) => {
      const body = seedBody(n);
      const req = http.request(
        { host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode === 200));
        },
      );
      req.on("error", () => resolve(false));
      req.end(body);
    });
  return { send, close: () => agent.destroy() };
}

function trpcSender(url: string): { send: Send; close: () => void } {
  const client = createChurnClient(url);
  const send: Send = (n) => client.predict.mutate({ ...SEED_REQUEST, customer_id: `CUST-${n}` }).then(() => true, () => false);
  return { send, close: () => client.close() };
}

interface RateResult {
  p50: number;
  p99: number;
  max: number;
  errors: number;
  requests: number;
  /** The load generator's (this process's) CPU µs per request. */
  generatorUs: number;
}

let sequence = 0;

/**
 * Open-loop constant rate: requests leave on schedule whatever the answers do (autocannon's
 * `overallRate` sends in bursts, which alone puts the hello-world's p99 above 10 ms here). A 1 ms
 * timer sends what is due (two requests a tick at 2,000 req/s): polling with setImmediate would
 * spin a core that the server needs on a 2-core machine.
 */
function constantRate(send: Send, rate: number, seconds: number): Promise<RateResult> {
  return new Promise((resolve) => {
    const total = rate * seconds;
    const latencies: number[] = [];
    let sent = 0;
    const start = performance.now();
    const cpu0 = process.cpuUsage();
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      for (; sent < due; sent++) {
        const t0 = performance.now();
        void send(sequence++).then((ok) => {
          latencies.push(ok ? performance.now() - t0 : Infinity);
          if (latencies.length === total) {
            latencies.sort((a, b) => a - b);
            const p = percentiles(latencies);
            const cpu = process.cpuUsage(cpu0);
            resolve({
              p50: p.p50, p99: p.p99, max: latencies[total - 1], errors: latencies.filter((x) => x === Infinity).length, requests: total,
              generatorUs: Math.round((cpu.user + cpu.system) / total),
            });
          }
        });
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
}

/** A 2 s warm-up, then `RUNS` runs of 5 s; the median run's p99 is the figure (this box is noisy). */
async function fixedRateRow(label: string, server: Server, sender: { send: Send; close: () => void }, rate: number, base?: BenchRow): Promise<BenchRow> {
  await constantRate(sender.send, rate, 2);
  const runs: (RateResult & { cpuUs: number | null })[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await withCpu(server, (r) => r.requests, () => constantRate(sender.send, rate, 5)));
  sender.close();
  runs.sort((a, b) => a.p99 - b.p99);
  const median = runs[Math.floor(RUNS / 2)];
  return {
    target: label, "req/s": rate, "p50 ms": median.p50, "p99 ms": median.p99,
    "p99 vs hello-world": base ? `${(median.p99 / (base["p99 ms"] as number)).toFixed(1)}x` : "",
    "p99 of each run": runs.map((r) => r.p99.toFixed(2)).join(" / "),
    "max ms": Math.max(...runs.map((r) => r.max)), "server CPU µs/req": median.cpuUs ?? "n/a", "generator CPU µs/req": median.generatorUs,
    errors: runs.reduce((s, r) => s + r.errors, 0),
  };
}

interface LoadResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  non2xx: number;
}

/** Flat out: 50 keep-alive connections for 5 s, a new customer id in every body. */
function flatOut(server: Server, path: string): Promise<LoadResult & { cpuUs: number | null }> {
  return withCpu(server, (r: LoadResult) => r.requests.total, () =>
    autocannon({
      url: `${server.url}${path}`, method: "POST", headers: { "content-type": "application/json" },
      body: seedBody("[<id>]"), idReplacement: true, connections: 50, duration: 5,
    }),
  );
}

function flatRow(label: string, r: LoadResult & { cpuUs: number | null }, base?: LoadResult): BenchRow {
  return {
    target: label, "req/s": Math.round(r.requests.average), "p50 ms": r.latency.p50, "p99 ms": r.latency.p99,
    "server CPU µs/req": r.cpuUs ?? "n/a", errors: r.errors + r.non2xx,
    "vs hello-world": base ? `${(r.requests.average / base.requests.average).toFixed(2)}x` : "",
  };
}

export default async function run(): Promise<void> {
  const hello = await start(["-e", HELLO]);
  const on = await service("on");
  const off = await service("off");
  try {
    const hello2000 = await fixedRateRow("hello-world", hello, restSender(`${hello.url}/`), RATE);
    const hello500 = await fixedRateRow("hello-world", hello, restSender(`${hello.url}/`), TRPC_RATE);
    printTable(`Single predictions at a constant rate (open loop, keep-alive; ${RUNS} runs of 5 s after a 2 s warm-up)`, [
      hello2000,
      await fixedRateRow("REST POST /predict", on, restSender(`${on.url}/predict`), RATE, hello2000),
      await fixedRateRow("REST POST /predict, monitoring off", off, restSender(`${off.url}/predict`), RATE, hello2000),
      hello500,
      await fixedRateRow("tRPC client predict (httpBatchLink)", on, trpcSender(on.url), TRPC_RATE, hello500),
    ]);

    const h = await flatOut(hello, "/");
    printTable("Flat out: autocannon, 50 connections, keep-alive, 5 s", [
      flatRow("hello-world", h),
      flatRow("REST POST /predict", await flatOut(on, "/predict"), h),
      flatRow("REST POST /predict, monitoring off", await flatOut(off, "/predict"), h),
    ]);

    // The typed client flat out: 32 calls in flight, batched by httpBatchLink, for 5 s.
    const client = createChurnClient(on.url);
    const samples: number[] = [];
    const end = performance.now() + 5000;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (performance.now() < end) {
          const t0 = performance.now();
          await client.predict.mutate({ ...SEED_REQUEST, customer_id: `CUST-${sequence++}` });
          samples.push(performance.now() - t0);
        }
      }),
    );
    client.close();
    const p = percentiles(samples);
    printTable("tRPC client flat out (httpBatchLink), 32 concurrent calls", [
      { "calls/s": Math.round(samples.length / 5), "p50 ms": p.p50, "p99 ms": p.p99, "vs hello-world": `${(samples.length / 5 / h.requests.average).toFixed(2)}x` },
    ]);

    const customers = readCsvRecords(1000);
    const t0 = performance.now();
    let scored = 0;
    while (performance.now() - t0 < 5000) {
      const res = await fetch(`${on.url}/batch-predict`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ customers }) });
      scored += (await res.json()).results.length;
    }
    printTable("POST /batch-predict, 1,000 customers a call", [{ "customers/s": Math.round(scored / ((performance.now() - t0) / 1000)) }]);
    console.log(`\nTargets: p99 <= 2 ms at ${RATE.toLocaleString("en-US")} req/s; throughput >= 0.5x the hello-world.`);
  } finally {
    for (const s of [hello, on, off]) s.child.kill("SIGTERM");
  }
}
