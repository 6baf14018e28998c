// The service on its embedded store, on PostgreSQL, and as 2 workers on PostgreSQL (`--workers 2`:
// a supervisor and two worker processes sharing the port), in the same run against one real
// PostgreSQL server (a database of its own each): single predictions at a constant 2,000 req/s
// (latency), flat out with autocannon (throughput), and /batch-predict customers/s from the same
// number of concurrent callers for all three (enough to keep both workers busy).
// Every request is a distinct customer (every /batch-predict call too): each one at risk gets a
// recommendation, a cooldown and a workflow entry, as real traffic would. CPU is read from /proc
// around each measured run: the server's process tree (supervisor and workers), PostgreSQL's (the
// postmaster and its backends) and the load generator's (this process), per request or customer.
import { readFileSync } from "node:fs";
import { readCsvRecords } from "../test/helpers/customers.ts";
import { startPostgres } from "../test/helpers/postgres-server.ts";
import { batchPredict, childPids, fixedRateRow, flatOut, flatRow, restSender, RUNS, startService, stop, treeCpuSeconds, withCpu, type BatchResult, type CpuProbe, type Server } from "./load.ts";
import { printTable, type BenchRow } from "./table.ts";

const RATE = 2000;
/** A second, lower constant rate that every configuration sustains on this machine. */
const LOW_RATE = 400;
/** Concurrent /batch-predict callers, the same for every server: 2 a worker. */
const BATCH_CALLERS = 4;
const BATCH_SIZE = 1000;
const BATCH_SECONDS = 5;

/** The PostgreSQL server's processes: this process's children named `postgres` and theirs. */
const postgresCpu: CpuProbe = () => {
  const roots = childPids(process.pid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "postgres";
    } catch {
      return false;
    }
  });
  if (roots.length === 0) return null;
  return roots.reduce((s, pid) => s + (treeCpuSeconds(pid) ?? 0), 0);
};

const also = { name: "PostgreSQL", cpu: postgresCpu };

/** CPU seconds the whole machine has been busy (all cores; /proc/stat), to tell other work apart. */
function machineBusySeconds(): number {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  void idle;
  void iowait;
  return (user + nice + system + irq + softirq + steal) / 100;
}

/** The median of `RUNS` runs of `BATCH_SECONDS` (after a 1 s warm-up), with each run's figure and CPU per customer. */
async function batchRow(label: string, server: Server, base?: BenchRow): Promise<BenchRow> {
  const records = readCsvRecords(BATCH_SIZE);
  let call = 0;
  // A new customer id for every customer of every call (as every /predict).
  const customers = () => {
    const n = call++;
    return records.map((r) => ({ ...r, customer_id: `${r.customer_id}-${n}` }));
  };
  await batchPredict(server.url, customers, BATCH_CALLERS, 1);
  const runs: (BatchResult & { cpuUs: number | null; alsoUs: number | null; generatorUs: number; machineUs: number })[] = [];
  for (let i = 0; i < RUNS; i++) {
    const cpu0 = process.cpuUsage();
    const busy0 = machineBusySeconds();
    const r = await withCpu(server, (b: BatchResult) => b.customers, () => batchPredict(server.url, customers, BATCH_CALLERS, BATCH_SECONDS), postgresCpu);
    const cpu = process.cpuUsage(cpu0);
    runs.push({ ...r, generatorUs: (cpu.user + cpu.system) / r.customers, machineUs: ((machineBusySeconds() - busy0) * 1e6) / r.customers });
  }
  runs.sort((a, b) => a.customersPerSecond - b.customersPerSecond);
  const median = runs[Math.floor(RUNS / 2)];
  // CPU µs per customer x customers a second = cores kept busy.
  const cores = (us: number | null) => (us === null ? "n/a" : ((us * median.customersPerSecond) / 1e6).toFixed(2));
  return {
    target: label, "customers/s": median.customersPerSecond,
    "vs PostgreSQL, 1 process": base ? `${(median.customersPerSecond / (base["customers/s"] as number)).toFixed(2)}x` : "",
    "customers/s of each run": runs.map((r) => r.customersPerSecond.toLocaleString("en-US")).join(" / "),
    "server CPU µs/customer": median.cpuUs ?? "n/a", "server cores": cores(median.cpuUs),
    "PostgreSQL CPU µs/customer": median.alsoUs ?? "n/a", "PostgreSQL cores": cores(median.alsoUs),
    "generator cores": cores(median.generatorUs), "machine busy cores (all work)": cores(median.machineUs),
    errors: runs.reduce((s, r) => s + r.errors, 0),
  };
}

/** Flat out /predict, with the load generator's (autocannon's, in this process) CPU per request. */
async function flat(label: string, server: Server, base?: Parameters<typeof flatRow>[2]) {
  const cpu0 = process.cpuUsage();
  const r = await flatOut(server, "/predict", postgresCpu);
  const cpu = process.cpuUsage(cpu0);
  return { result: r, row: { ...flatRow(label, r, base, { baseName: "embedded", also }), "generator CPU µs/req": Math.round((cpu.user + cpu.system) / r.requests.total) } };
}

export default async function run(): Promise<void> {
  const pg = await startPostgres();
  const servers: Server[] = [];
  try {
    const serve = async (...args: string[]) => {
      const s = await startService(args);
      servers.push(s);
      return s;
    };
    const embedded = await serve();
    const onePg = await serve("--database-url", await pg.freshDatabase());
    const twoPg = await serve("--database-url", await pg.freshDatabase(), "--workers", "2");
    const labels = ["embedded, 1 process", "PostgreSQL, 1 process", "PostgreSQL, 2 workers"];

    const rate: BenchRow[] = [];
    for (const [i, s] of [embedded, onePg, twoPg].entries()) {
      rate.push(await fixedRateRow(labels[i], s, restSender(`${s.url}/predict`), RATE, rate[0], { baseName: "embedded", also }));
    }
    printTable(`POST /predict at a constant ${RATE.toLocaleString("en-US")} req/s (open loop, keep-alive; ${RUNS} runs of 5 s after a 2 s warm-up; CPU incl. workers)`, rate);

    // Below what the PostgreSQL configurations serve flat out here: what a request's database round
    // trips add when nothing queues behind them.
    const low: BenchRow[] = [];
    for (const [i, s] of [embedded, onePg, twoPg].entries()) {
      low.push(await fixedRateRow(labels[i], s, restSender(`${s.url}/predict`), LOW_RATE, low[0], { baseName: "embedded", also }));
    }
    printTable(`POST /predict at a constant ${LOW_RATE} req/s (as above)`, low);

    const flats: Awaited<ReturnType<typeof flat>>[] = [];
    for (const [i, s] of [embedded, onePg, twoPg].entries()) flats.push(await flat(labels[i], s, flats[0]?.result));
    printTable("POST /predict flat out: autocannon in this process, 50 connections, keep-alive, 5 s", flats.map((f) => f.row));

    const batch: BenchRow[] = [];
    for (const [i, s] of [embedded, onePg, twoPg].entries()) batch.push(await batchRow(labels[i], s, i === 2 ? batch[1] : undefined));
    printTable(`POST /batch-predict, ${BATCH_SIZE.toLocaleString("en-US")} customers a call (new ids each call), ${BATCH_CALLERS} concurrent callers for every server; median of ${RUNS} runs of ${BATCH_SECONDS} s`, batch);

    const added = (rate[1]["p99 ms"] as number) - (rate[0]["p99 ms"] as number);
    const ratio = (batch[2]["customers/s"] as number) / (batch[1]["customers/s"] as number);
    console.log(`\nPostgreSQL adds ${added.toFixed(2)} ms to p99 at ${RATE.toLocaleString("en-US")} req/s (target <= 0.5 ms)${added <= 0.5 ? "" : ": MISSED"}.`);
    console.log(`At ${LOW_RATE} req/s PostgreSQL adds ${((low[1]["p99 ms"] as number) - (low[0]["p99 ms"] as number)).toFixed(2)} ms to p99.`);
    console.log(`2 workers: ${ratio.toFixed(2)}x one worker's /batch-predict customers/s (target >= 1.7x)${ratio >= 1.7 ? "" : ": MISSED"}.`);
  } finally {
    await Promise.all(servers.map((s) => stop(s)));
    await pg.stop();
  }
}
