// Memory over time: the service (embedded store, log and monitor on, as `npm start` runs it) at a
// constant 2,000 req/s of distinct customers for MEMORY_MINUTES (10), RSS read from /proc after
// start and after every minute, with that minute's p99 and the customers the log keeps state
// about. Distinct customers are the worst case: each adds per-customer state on top of the
// windows. A customer is kept while a prediction of theirs is in the log (retention deletes
// segments once LOG_SEGMENTS x LOG_SEGMENT_BYTES are written: 16 x 64 MiB, about six minutes at
// this rate; set smaller ones to reach it sooner) or an intervention started for them is in
// cooldown (7 to 180 days). MEMORY_INTERVENING (0..1, default 1): the share of requests whose
// customer the decision gives an intervention (the seed request); the others are low-risk
// customers it leaves alone, forgotten with their segment.
import { readFileSync } from "node:fs";
import { SEED_REQUEST } from "../test/helpers/server.ts";
import { constantRate, restSender, seedBody, startService, stop, withCpu } from "./load.ts";
import { printTable, type BenchRow } from "./table.ts";

const RATE = 2000;

/** Resident set of a process, in MB (Linux /proc). */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

/** The server's own figures from its /metrics: what of the RSS is V8's heap (MB), what is outside it, and the customers kept. */
async function serverFigures(url: string): Promise<{ "heap used MB": number; "heap total MB": number; "external MB": number; "customers kept": number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, "m").exec(text)?.[1] ?? NaN);
  const mb = (name: string) => Math.round(value(name) / 2 ** 20);
  return {
    "heap used MB": mb("nodejs_heap_size_used_bytes"), "heap total MB": mb("nodejs_heap_size_total_bytes"), "external MB": mb("nodejs_external_memory_bytes"),
    "customers kept": value("churn_log_customers"),
  };
}

/** A low-risk customer: the decision recommends nothing (no start, no cooldown). */
const quietBody = (n: number) => JSON.stringify({ ...SEED_REQUEST, customer_id: `CUST-${n}`, tenure: 70, monthly_charges: 20, contract_type: "Two year", internet_service: "No" });

export default async function run(): Promise<void> {
  const minutes = Number(process.env.MEMORY_MINUTES ?? 10);
  const intervening = Number(process.env.MEMORY_INTERVENING ?? 1);
  if (!(intervening >= 0 && intervening <= 1)) throw new Error(`MEMORY_INTERVENING: expected a share in 0..1, got ${JSON.stringify(process.env.MEMORY_INTERVENING)}`);
  const server = await startService();
  const pid = server.child.pid!;
  // Spread evenly: request n intervenes when the running share falls behind.
  const sender = restSender(`${server.url}/predict`, (n) => (Math.floor((n + 1) * intervening) > Math.floor(n * intervening) ? seedBody(n) : quietBody(n)));
  const rows: BenchRow[] = [{ minute: 0, "RSS MB": rssMb(pid), ...(await serverFigures(server.url)), "p50 ms": "", "p99 ms": "", "max ms": "", "server CPU µs/req": "", errors: "" }];
  try {
    for (let m = 1; m <= minutes; m++) {
      const r = await withCpu(server, (x) => x.requests, () => constantRate(sender.send, RATE, 60));
      rows.push({ minute: m, "RSS MB": rssMb(pid), ...(await serverFigures(server.url)), "p50 ms": r.p50, "p99 ms": r.p99, "max ms": r.max, "server CPU µs/req": r.cpuUs ?? "n/a", errors: r.errors });
      console.log(`minute ${m}: RSS ${rows[m]["RSS MB"]} MB, p99 ${r.p99.toFixed(2)} ms`);
    }
  } finally {
    sender.close();
    await stop(server);
  }
  const retention = `LOG_SEGMENTS ${process.env.LOG_SEGMENTS ?? 16} x LOG_SEGMENT_BYTES ${process.env.LOG_SEGMENT_BYTES ?? 64 * 2 ** 20}`;
  printTable(`Memory: REST /predict at a constant ${RATE} req/s of distinct customers (${intervening * 100}% given an intervention; ${retention}), ${minutes} min (RSS after each minute)`, rows);
}
