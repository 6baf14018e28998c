// Load generation shared by the HTTP sections: servers in child processes (so the load generator
// does not share their event loop), open-loop constant rate, autocannon flat out, /batch-predict
// callers, and the server's CPU time per request read from /proc (Linux) around each measured
// run — summed over the server's process tree, so a `--workers N` supervisor counts its workers.
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
// @ts-expect-error autocannon ships no type declarations
import autocannon from "autocannon";
import type { PredictRequest } from "../server/contract/api.ts";
import { SEED_REQUEST } from "../test/helpers/server.ts";
import { startNodeFlags } from "../test/helpers/start-command.ts";
import { percentiles, type BenchRow } from "./table.ts";

export const seedBody = (n: number | string) => JSON.stringify({ ...SEED_REQUEST, customer_id: `CUST-${n}` });
export const RUNS = 3;

export interface Server {
  url: string;
  child: ChildProcess;
  /** The service's data directory, removed by `stop` (a gigabyte of log at the default retention). */
  dataDir?: string;
}

/** Starts `node <args>` and resolves once it prints `listening on http://127.0.0.1:<port>`. */
export async function start(args: string[], env?: NodeJS.ProcessEnv): Promise<Server> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"], env: env ?? process.env });
  let seen = "";
  const url = await new Promise<string>((resolve, reject) => {
    const find = (d: Buffer) => {
      // "listening on": a `--workers N` supervisor says it once, when every worker serves (their
      // own start-up lines come first on the same stdout).
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec((seen += d.toString()));
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

/** The service (`serve`, built, with `npm start`'s node flags) on a port of its own and a fresh data directory. */
export async function startService(args: string[] = []): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), "bench-"));
  return { ...(await start([...startNodeFlags(), "dist/cli/main.js", "serve", "--port", "0", "--data-dir", dataDir, ...args])), dataDir };
}

/** SIGTERM, then waits (up to `ms`) for the process to exit; removes its data directory. */
export async function stop(server: Server, ms = 10_000): Promise<void> {
  await exited(server.child, ms);
  if (server.dataDir) rmSync(server.dataDir, { recursive: true, force: true });
}

function exited(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve();
    }, ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces); null when gone. */
function stat(pid: number): string[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/** The pids of a process's children (those of every one of its threads). */
export function childPids(pid: number): number[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const tid of tids) {
    try {
      for (const p of readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").split(" ")) if (p.trim()) pids.push(Number(p));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return pids;
}

/**
 * CPU seconds (user + system, all threads) that a process and its descendants have used, where
 * /proc tells: the live ones' own time plus the time of the children they have reaped.
 */
export function treeCpuSeconds(pid: number): number | null {
  if (!existsSync(`/proc/${pid}/stat`)) return null;
  let ticks = 0;
  const walk = (p: number) => {
    const f = stat(p);
    if (!f) return;
    // utime, stime, cutime, cstime: the 14th to 17th fields, in clock ticks (100 a second on Linux).
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    for (const c of childPids(p)) walk(c);
  };
  walk(pid);
  return ticks / 100;
}

/** A cumulative CPU-seconds reading (null when unknown), measured around each run. */
export type CpuProbe = () => number | null;

export interface Cpu {
  /** The server's (process tree's) CPU µs per request. */
  cpuUs: number | null;
  /** The same for the `also` probe (e.g. the database server), when given. */
  alsoUs: number | null;
}

/** Runs `fn` and returns its result with the server's CPU µs per request over it (and `also`'s). */
export async function withCpu<T>(server: Server, requests: (r: T) => number, fn: () => Promise<T>, also?: CpuProbe): Promise<T & Cpu> {
  const probe = () => treeCpuSeconds(server.child.pid!);
  const before = [probe(), also?.() ?? null];
  const r = await fn();
  const after = [probe(), also?.() ?? null];
  const us = (i: number) => (before[i] === null || after[i] === null ? null : Math.round(((after[i]! - before[i]!) * 1e6) / requests(r)));
  return { ...r, cpuUs: us(0), alsoUs: us(1) };
}

/** Sends one request; resolves true on success. */
export type Send = (n: number) => Promise<boolean>;

/** Sends request n's body (the seed request as customer n, by default) to `url`; says each new kind of failure once. */
export function restSender(url: string, body: (n: number) => string = seedBody): { send: Send; close: () => void } {
  const u = new URL(url);
  // FIFO: every open socket stays in use. With the default (LIFO), the sockets opened during a
  // latency spike sit idle once it passes, the server closes them after its 5 s keep-alive
  // timeout, and a request sent on one just as it closes fails with ECONNRESET (seen in the
  // memory section's first minutes, with either build).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64, scheduling: "fifo" });
  const said = new Set<string>();
  const failed = (reason: string) => {
    if (!said.has(reason)) console.warn(`${u.pathname}: a request failed: ${reason} (said once)`);
    said.add(reason);
    return false;
  };
  const send: Send = (n) =>
    new Promise((resolve) => {
      const text = body(n);
      const req = http.request(
        { host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text) } },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode === 200 || failed(`HTTP ${res.statusCode}`)));
        },
      );
      req.on("error", (err: NodeJS.ErrnoException) => resolve(failed(err.code ?? err.message)));
      req.end(text);
    });
  return { send, close: () => agent.destroy() };
}

export interface RateResult {
  p50: number;
  p99: number;
  max: number;
  errors: number;
  requests: number;
  /** The load generator's (this process's) CPU µs per request. */
  generatorUs: number;
}

let sequence = 0;
/** The next customer number: every request in a run of the benchmark is a distinct customer. */
export const nextCustomer = () => sequence++;

/**
 * Open-loop constant rate: requests leave on schedule whatever the answers do (autocannon's
 * `overallRate` sends in bursts, which alone puts the hello-world's p99 above 10 ms here). A 1 ms
 * timer sends what is due (two requests a tick at 2,000 req/s): polling with setImmediate would
 * spin a core that the server needs on a 2-core machine.
 */
export function constantRate(send: Send, rate: number, seconds: number): Promise<RateResult> {
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

export interface RowOptions {
  /** What `base` is, in the ratio column's name ("hello-world"). */
  baseName?: string;
  /** Another process tree's CPU (e.g. the database server) per request, in a column of its own. */
  also?: { name: string; cpu: CpuProbe };
}

/** A 2 s warm-up, then `RUNS` runs of 5 s; the median run's p99 is the figure (this box is noisy). */
export async function fixedRateRow(label: string, server: Server, sender: { send: Send; close: () => void }, rate: number, base?: BenchRow, options: RowOptions = {}): Promise<BenchRow> {
  const { baseName = "hello-world", also } = options;
  await constantRate(sender.send, rate, 2);
  const runs: (RateResult & Cpu)[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await withCpu(server, (r) => r.requests, () => constantRate(sender.send, rate, 5), also?.cpu));
  sender.close();
  runs.sort((a, b) => a.p99 - b.p99);
  const median = runs[Math.floor(RUNS / 2)];
  return {
    target: label, "req/s": rate, "p50 ms": median.p50, "p99 ms": median.p99,
    [`p99 vs ${baseName}`]: base ? `${(median.p99 / (base["p99 ms"] as number)).toFixed(1)}x` : "",
    "p99 of each run": runs.map((r) => r.p99.toFixed(2)).join(" / "),
    "max ms": Math.max(...runs.map((r) => r.max)), "server CPU µs/req": median.cpuUs ?? "n/a",
    ...(also ? { [`${also.name} CPU µs/req`]: median.alsoUs ?? "n/a" } : {}),
    "generator CPU µs/req": median.generatorUs,
    errors: runs.reduce((s, r) => s + r.errors, 0),
  };
}

export interface LoadResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  non2xx: number;
}

/** Flat out: 50 keep-alive connections for 5 s, a new customer id in every body. */
export function flatOut(server: Server, path: string, also?: CpuProbe): Promise<LoadResult & Cpu> {
  return withCpu(server, (r: LoadResult) => r.requests.total, () =>
    autocannon({
      url: `${server.url}${path}`, method: "POST", headers: { "content-type": "application/json" },
      body: seedBody("[<id>]"), idReplacement: true, connections: 50, duration: 5,
    }),
  also);
}

export function flatRow(label: string, r: LoadResult & Cpu, base?: LoadResult, options: RowOptions = {}): BenchRow {
  const { baseName = "hello-world", also } = options;
  return {
    target: label, "req/s": Math.round(r.requests.average), "p50 ms": r.latency.p50, "p99 ms": r.latency.p99,
    "server CPU µs/req": r.cpuUs ?? "n/a",
    ...(also ? { [`${also.name} CPU µs/req`]: r.alsoUs ?? "n/a" } : {}),
    errors: r.errors + r.non2xx,
    [`vs ${baseName}`]: base ? `${(r.requests.average / base.requests.average).toFixed(2)}x` : "",
  };
}

export interface BatchResult {
  /** Customers scored a second, over all callers. */
  customersPerSecond: number;
  calls: number;
  customers: number;
  /** Calls answered other than 200. */
  errors: number;
}

/**
 * `concurrency` callers each POST /batch-predict in a loop for `seconds`; `customers(call)` is the
 * call's body (its number counts over all callers).
 */
export async function batchPredict(url: string, customers: (call: number) => PredictRequest[], concurrency: number, seconds: number): Promise<BatchResult> {
  const t0 = performance.now();
  let calls = 0;
  let scored = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() - t0 < seconds * 1000) {
        const res = await fetch(`${url}/batch-predict`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ customers: customers(calls++) }) });
        if (res.status !== 200) {
          errors++;
          await res.arrayBuffer();
          continue;
        }
        scored += (await res.json()).results.length;
      }
    }),
  );
  return { customersPerSecond: Math.round(scored / ((performance.now() - t0) / 1000)), calls, customers: scored, errors };
}
