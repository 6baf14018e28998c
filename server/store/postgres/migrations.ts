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
  {
    version: 2,
    name: "shared state of the replicas: prediction log, outcomes, cooldowns, workflow outbox, alerts",
    sql: `
      -- json, not jsonb: these documents are stored and handed back whole, never searched, and json
      -- is only checked on the way in and copied on the way out.
      -- xid: the transaction that wrote the row. Rows below the oldest running transaction
      -- (pg_snapshot_xmin) can no longer appear, so replicas read the log in xid ranges and each
      -- sees every row once, in the same order (fleet.ts).
      CREATE TABLE predictions (
        prediction_id uuid PRIMARY KEY,
        customer_id text NOT NULL,
        at_ms bigint NOT NULL,
        replica text NOT NULL,
        churn_probability double precision NOT NULL,
        experiment json,
        record json NOT NULL,
        xid xid8 NOT NULL DEFAULT pg_current_xact_id()
      );
      CREATE INDEX predictions_customer ON predictions (customer_id, at_ms DESC);
      CREATE INDEX predictions_at ON predictions (at_ms);
      CREATE INDEX predictions_xid ON predictions (xid);
      -- One outcome per prediction: the primary key makes a second one a conflict, fleet-wide.
      CREATE TABLE outcomes (
        prediction_id uuid PRIMARY KEY,
        churned boolean NOT NULL,
        at_ms bigint NOT NULL,
        churn_probability double precision NOT NULL,
        experiment json,
        xid xid8 NOT NULL DEFAULT pg_current_xact_id()
      );
      CREATE INDEX outcomes_xid ON outcomes (xid);
      CREATE INDEX outcomes_at ON outcomes (at_ms);
      -- A start claims its row: INSERT ... ON CONFLICT DO UPDATE ... WHERE out of cooldown (cooldowns.ts).
      -- cooldown_ms: the cooldown the last start claimed (a new start needs last_ms <= at - its cooldown).
      CREATE TABLE cooldowns (
        customer_id text NOT NULL,
        intervention text NOT NULL,
        last_ms bigint NOT NULL,
        cooldown_ms bigint NOT NULL,
        PRIMARY KEY (customer_id, intervention)
      );
      -- The workflow outbox: made in the start's statement; claimed by one replica at a time
      -- (FOR UPDATE SKIP LOCKED, a lease in the database's clock) and retried by any.
      CREATE TABLE workflow_entries (
        prediction_id uuid PRIMARY KEY,
        payload json NOT NULL,
        headers json,
        state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
        attempts integer NOT NULL DEFAULT 0,
        next_ms bigint NOT NULL,
        last_error text,
        claimed_by text,
        lease_until_ms bigint,
        created_ms bigint NOT NULL,
        done_ms bigint
      );
      CREATE INDEX workflow_due ON workflow_entries (next_ms) WHERE state = 'pending';
      CREATE INDEX workflow_done ON workflow_entries (done_ms) WHERE state <> 'pending';
      -- Alerts: a transition is an event only for the replica whose update changed the state.
      CREATE TABLE alert_state (
        key text PRIMARY KEY,
        state text NOT NULL
      );
      CREATE TABLE alert_events (
        id bigserial PRIMARY KEY,
        kind text NOT NULL,
        subject text NOT NULL,
        state text NOT NULL,
        value double precision NOT NULL,
        threshold double precision NOT NULL,
        at_ms bigint NOT NULL,
        xid xid8 NOT NULL DEFAULT pg_current_xact_id()
      );
      CREATE INDEX alert_events_xid ON alert_events (xid);
      -- The database's clock, for leases and retry times: replicas' clocks may disagree.
      CREATE FUNCTION churn_now_ms() RETURNS bigint LANGUAGE sql VOLATILE
        AS 'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint';
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
