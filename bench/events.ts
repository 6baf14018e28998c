// Customer events: ingest rate in batches of 1,000 (embedded store and PostgreSQL), profile()
// latency per call, and the scale run (1 million customers, 20 million events in the embedded
// store, RSS after loading; targets: <= 1 GB, >= 50,000 events/s, profile a few µs).
// EVENTS_SCALE (default 1) scales the scale run (0.05: 50,000 customers, 1 million events);
// DATABASE_URL: a PostgreSQL to measure, else an embedded one is started.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CustomerData } from "../server/contract/customer-data.ts";
import type { CustomerEvent } from "../server/contract/events.ts";
import { EmbeddedCustomerData } from "../server/store/customer-data/embedded.ts";
import { PostgresCustomerData } from "../server/store/postgres/customer-data.ts";
import { startPostgres } from "../test/helpers/postgres-server.ts";
import { loadConfig } from "../server/config.ts";
import { startServer } from "../server/http/server.ts";
import { percentiles, printTable, type BenchRow } from "./table.ts";

export interface EventsBenchOptions {
  /** Customers and events of the scale run. */
  customers: number;
  events: number;
  /** Events ingested for the rate rows (per store). */
  rateEvents: number;
  databaseUrl?: string;
}

export const DAY = 24 * 3600 * 1000;
export const T0 = Date.parse("2026-01-01T00:00:00Z");
const BATCH = 1000;
const CONTRACTS = ["Month-to-month", "One year", "Two year"];

/**
 * The i-th event of a stream over `customers` customers spread evenly over 100 days: signup
 * first, then logins (50%), usage (20%), billing (15%), support tickets (8%), profile changes (7%).
 */
export function event(i: number, customers: number, events: number): CustomerEvent {
  const customer_id = `CUST-${(i % customers).toString().padStart(7, "0")}`;
  const event_id = `evt-${i}`;
  const at = new Date(T0 + Math.floor((i / events) * 100 * DAY)).toISOString();
  if (i < customers) return { event_id, customer_id, at, type: "signup" };
  const r = (i * 2654435761) % 100;
  if (r < 50) return { event_id, customer_id, at, type: "login" };
  if (r < 70) return { event_id, customer_id, at, type: "usage", amount: (i % 97) + 0.5 };
  if (r < 85) return { event_id, customer_id, at, type: "billing", amount: 29.85 + (i % 50), paid_late: r < 73 };
  if (r < 93) return { event_id, customer_id, at, type: "support_ticket" };
  return { event_id, customer_id, at, type: "profile", contract_type: CONTRACTS[i % 3], monthly_charges: 20 + (i % 80) };
}

/** Ingests events [from, to) in batches of 1,000 with `inFlight` batches at a time; events/s. */
export async function ingest(store: CustomerData, from: number, to: number, customers: number, events: number, inFlight: number): Promise<number> {
  const t0 = performance.now();
  let next = from;
  const worker = async () => {
    while (next < to) {
      const start = next;
      next = Math.min(to, next + BATCH);
      const batch: CustomerEvent[] = [];
      for (let i = start; i < next; i++) batch.push(event(i, customers, events));
      await store.ingest(batch);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return (to - from) / ((performance.now() - t0) / 1000);
}

/** profile() µs per call, p50 and p99, over `calls` customers taken in a scattered order. */
async function profileLatency(store: CustomerData, customers: number, calls: number): Promise<{ p50: number; p99: number }> {
  const at = T0 + 100 * DAY;
  const samples: number[] = [];
  for (let k = 0; k < calls; k++) {
    const id = `CUST-${((k * 7919) % customers).toString().padStart(7, "0")}`;
    const t0 = performance.now();
    await store.profile(id, at);
    samples.push((performance.now() - t0) * 1000);
  }
  return percentiles(samples.slice(Math.floor(calls / 10)));
}

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
const gc = () => (globalThis as { gc?: () => void }).gc?.();

export async function eventsBench(o: EventsBenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const dir = mkdtempSync(join(tmpdir(), "events-bench-"));
  try {
    // Rates: 20 events per customer, as in the scale run.
    const customers = o.rateEvents / 20;
    const embedded = await EmbeddedCustomerData.open(join(dir, "rate"));
    const sequential = await ingest(embedded, 0, o.rateEvents / 2, customers, o.rateEvents, 1);
    const concurrent = await ingest(embedded, o.rateEvents / 2, o.rateEvents, customers, o.rateEvents, 4);
    const lat = await profileLatency(embedded, customers, 50_000);
    rows.push({ store: "embedded", customers, events: o.rateEvents, "events/s, 1 batch at a time": Math.round(sequential), "events/s, 4 in flight": Math.round(concurrent), "profile p50 µs": lat.p50, "profile p99 µs": lat.p99, "RSS MB": "" });
    await embedded.close();

    const server = o.databaseUrl ? undefined : await startPostgres();
    try {
      const pg = await PostgresCustomerData.connect(o.databaseUrl ?? (await server!.freshDatabase()));
      const pgEvents = Math.min(o.rateEvents, 200_000);
      const pgCustomers = pgEvents / 20;
      const seq = await ingest(pg, 0, pgEvents / 2, pgCustomers, pgEvents, 1);
      const conc = await ingest(pg, pgEvents / 2, pgEvents, pgCustomers, pgEvents, 4);
      const pgLat = await profileLatency(pg, pgCustomers, 5_000);
      rows.push({ store: "postgres", customers: pgCustomers, events: pgEvents, "events/s, 1 batch at a time": Math.round(seq), "events/s, 4 in flight": Math.round(conc), "profile p50 µs": pgLat.p50, "profile p99 µs": pgLat.p99, "RSS MB": "" });
      await pg.close();
    } finally {
      await server?.stop();
    }

    // Single events over HTTP: the whole request path (JSON, validation, the store's commit). Each answer
    // waits for its fsync, so the rate is concurrency over the commit time (group commit shares one fsync).
    process.env.LOG_LEVEL ??= "off"; // an access line per request would measure the terminal
    const http = await startServer(loadConfig(["--port", "0", "--data-dir", join(dir, "http"), "--monitoring", "off"], {}));
    try {
      const n = 5_000;
      let next = 0;
      const t0 = performance.now();
      const worker = async () => {
        while (next < n) {
          const e = { ...event(next, n / 20, n), trigger: false };
          next++;
          const res = await fetch(`${http.url}/events`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(e) });
          await res.arrayBuffer();
        }
      };
      await Promise.all(Array.from({ length: 64 }, worker));
      rows.push({ store: "embedded, single events over HTTP", customers: n / 20, events: n, "events/s, 1 batch at a time": "", "events/s, 4 in flight": `${Math.round(n / ((performance.now() - t0) / 1000))} (64 requests in flight)`, "profile p50 µs": "", "profile p99 µs": "", "RSS MB": "" });
    } finally {
      await http.close();
    }

    // Scale: one store, loaded in order with 4 batches in flight; RSS after a full collection.
    gc();
    const rss0 = process.memoryUsage().rss;
    const big = await EmbeddedCustomerData.open(join(dir, "scale"));
    const rate = await ingest(big, 0, o.events, o.customers, o.events, 4);
    gc();
    const rss = process.memoryUsage().rss;
    const bigLat = await profileLatency(big, o.customers, 100_000);
    const stats = big.stats();
    rows.push({ store: "embedded (scale)", customers: o.customers, events: o.events, "events/s, 1 batch at a time": "", "events/s, 4 in flight": Math.round(rate), "profile p50 µs": bigLat.p50, "profile p99 µs": bigLat.p99, "RSS MB": `${mb(rss)} (+${mb(rss - rss0)}; rows ${mb(stats.arenaBytes)})` });
    await big.close();
    const t0 = performance.now();
    const reopened = await EmbeddedCustomerData.open(join(dir, "scale"));
    rows.push({ store: "embedded (scale, reopened)", customers: o.customers, events: o.events, "events/s, 1 batch at a time": "", "events/s, 4 in flight": Math.round(o.events / ((performance.now() - t0) / 1000)), "profile p50 µs": "", "profile p99 µs": "", "RSS MB": "" });
    await reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export default async function run(): Promise<void> {
  const scale = Number(process.env.EVENTS_SCALE ?? 1);
  const rows = await eventsBench({ customers: Math.round(1_000_000 * scale), events: Math.round(20_000_000 * scale), rateEvents: 400_000, databaseUrl: process.env.DATABASE_URL });
  printTable("Customer events: ingest in batches of 1,000, profile() per call, scale run (reopened: replay rate)", rows);
  console.log("\nTargets: >= 50,000 events/s; profile a few µs (predict by id <= 20 µs over inline fields); 1 M customers / 20 M events in <= 1 GB RSS.");
}
