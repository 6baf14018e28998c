// Memory over time: the service (embedded store, log and monitor on, as `npm start` runs it) at a
// constant 2,000 req/s of distinct customers for MEMORY_MINUTES (10), RSS read from /proc after
// start and after every minute, with that minute's p99. Distinct customers are the worst case:
// each adds per-customer state (cooldowns, latest prediction) on top of the windows, which are
// bounded. Log retention starts deleting segments once LOG_SEGMENTS x LOG_SEGMENT_BYTES are
// written (16 x 64 MiB: about six minutes at this rate); set smaller ones to reach it sooner.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { constantRate, restSender, start, stop, withCpu } from "./load.ts";
import { printTable, type BenchRow } from "./table.ts";

const RATE = 2000;

/** Resident set of a process, in MB (Linux /proc). */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

/** The server's own heap figures (MB) from its /metrics: what of the RSS is V8's heap, and what is outside it. */
async function heapMb(url: string): Promise<{ "heap used MB": number; "heap total MB": number; "external MB": number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const mb = (name: string) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, "m").exec(text);
    return m ? Math.round(Number(m[1]) / 2 ** 20) : NaN;
  };
  return { "heap used MB": mb("nodejs_heap_size_used_bytes"), "heap total MB": mb("nodejs_heap_size_total_bytes"), "external MB": mb("nodejs_external_memory_bytes") };
}

export default async function run(): Promise<void> {
  const minutes = Number(process.env.MEMORY_MINUTES ?? 10);
  const server = await start(["dist/cli/main.js", "serve", "--port", "0", "--data-dir", mkdtempSync(join(tmpdir(), "bench-memory-"))]);
  const pid = server.child.pid!;
  const sender = restSender(`${server.url}/predict`);
  const rows: BenchRow[] = [{ minute: 0, "RSS MB": rssMb(pid), ...(await heapMb(server.url)), "p50 ms": "", "p99 ms": "", "max ms": "", "server CPU µs/req": "", errors: "" }];
  try {
    for (let m = 1; m <= minutes; m++) {
      const r = await withCpu(server, (x) => x.requests, () => constantRate(sender.send, RATE, 60));
      rows.push({ minute: m, "RSS MB": rssMb(pid), ...(await heapMb(server.url)), "p50 ms": r.p50, "p99 ms": r.p99, "max ms": r.max, "server CPU µs/req": r.cpuUs ?? "n/a", errors: r.errors });
      console.log(`minute ${m}: RSS ${rows[m]["RSS MB"]} MB, p99 ${r.p99.toFixed(2)} ms`);
    }
  } finally {
    sender.close();
    await stop(server);
  }
  printTable(`Memory: REST /predict at a constant ${RATE} req/s of distinct customers, ${minutes} min (RSS after each minute)`, rows);
}
