// The database schema, versioned: every replica runs migrate() at start. One transaction under a
// transaction-level advisory lock applies the migrations a `schema_migrations` table does not list
// yet, so replicas starting at once apply each exactly once (the others wait, then find nothing
// left to do). Migrations are append-only and additive: a replica of the previous version keeps
// working on a database one version ahead during a rolling deploy. Another concern adds its
// tables by appending an entry with the next version number.
import type { Sql } from "postgres";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** pg_advisory_xact_lock key of schema migration ("churn-mi"). */
const MIGRATION_LOCK = 0x636875726e2d6d69n;

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "customer data: imported rows, events, compaction summaries",
    sql: `
      CREATE TABLE customer_rows (
        customer_id text PRIMARY KEY,
        fields jsonb NOT NULL
      );
      -- One row per event; (customer_id, event_id) is the dedupe key. at_ms: ms since epoch.
      CREATE TABLE customer_events (
        customer_id text NOT NULL,
        event_id text NOT NULL,
        type text NOT NULL,
        at_ms bigint NOT NULL,
        amount double precision,
        paid_late boolean,
        fields jsonb,
        PRIMARY KEY (customer_id, event_id)
      );
      CREATE INDEX customer_events_at ON customer_events (at_ms);
      -- What compaction left of a customer's events before the cutoff (server/profiles/compact.ts).
      CREATE TABLE customer_summaries (
        customer_id text PRIMARY KEY,
        summary jsonb NOT NULL
      );
      -- Events before the cutoff are compacted, and refused from then on.
      CREATE TABLE customer_data_cutoff (
        single boolean PRIMARY KEY DEFAULT true CHECK (single),
        cutoff_ms double precision NOT NULL
      );
      INSERT INTO customer_data_cutoff (cutoff_ms) VALUES ('-Infinity');
    `,
  },
];

/** Applies the migrations the database lacks; returns the versions applied by this call. */
export async function migrate(sql: Sql, migrations: Migration[] = MIGRATIONS): Promise<number[]> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK.toString()}::bigint)`;
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`;
    const done = new Set((await tx<{ version: number }[]>`SELECT version FROM schema_migrations`).map((r) => r.version));
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      try {
        await tx.unsafe(m.sql);
      } catch (err) {
        throw new Error(`schema migration ${m.version} (${m.name}) failed: ${(err as Error).message}`);
      }
      await tx`INSERT INTO schema_migrations (version, name) VALUES (${m.version}, ${m.name})`;
      applied.push(m.version);
    }
    return applied;
  });
}
