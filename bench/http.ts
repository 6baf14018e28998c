// The service over HTTP, next to a bare node:http hello-world served the same way in the same
// run: /predict over REST with keep-alive (autocannon) at a fixed 2,000 req/s and flat out, with
// and without the monitoring/log observers; the tRPC client; /batch-predict customers/s.
// Servers run in child processes so the load generator does not share their event loop.
import { spawn, type ChildProcess } from "node:child_process";
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

async function load(url: string, rate?: number): Promise<LoadResult> {
  return autocannon({
    url, method: "POST", headers: { "content-type": "application/json" }, body: SEED,
    connections: rate ? 20 : 50, duration: 5, ...(rate ? { overallRate: rate } : {}),
  });
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
    const rows: BenchRow[] = [];
    for (const rate of [2000, undefined]) {
      const h = await load(`${hello.url}/`, rate);
      const label = rate ? `@ ${rate} req/s` : "max";
      rows.push(row(`hello-world ${label}`, h));
      rows.push(row(`POST /predict ${label}`, await load(`${on.url}/predict`, rate), h));
      rows.push(row(`POST /predict ${label}, monitoring off`, await load(`${off.url}/predict`, rate), h));
    }
    printTable("HTTP: /predict with keep-alive (autocannon), server in a child process", rows);

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
