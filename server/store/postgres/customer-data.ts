// Customer data in PostgreSQL (tables in migrations.ts): any number of replicas share it.
// A batch is one transaction: `INSERT ... ON CONFLICT DO NOTHING RETURNING` tells applied from
// duplicate (a duplicate of an event another transaction is inserting waits for its outcome).
// The cutoff is read under a shared advisory lock that compaction takes exclusively to raise it,
// so no event older than the cutoff slips in while compaction runs. Profiles are derived in the
// server by server/profiles/derive.ts from one query's rows, exactly as the embedded store does.
import type { TransactionSql } from "postgres";
import { CustomerDataRefusal, oneProfile, refuseBeforeHorizon, type CustomerData, type CustomerRow, type FieldValue, type IngestResult, type Profile, type ProfileQuery } from "../../contract/customer-data.ts";
import { PROFILE_FIELDS, type CustomerEvent } from "../../contract/events.ts";
import { horizonOf, summarize, summaryRows, type Summary } from "../../profiles/compact.ts";
import { deriveProfile } from "../../profiles/derive.ts";
import { eventRows, eventTime, RowBuffer, StringTable, type EventFacts } from "../../profiles/rows.ts";
import { Database, recordset, texts, type PostgresOptions } from "./connect.ts";

/** Advisory lock keys: the cutoff (shared by ingests, exclusive to raise it), and compaction work. */
const CUTOFF_LOCK = "7163850512018600001";
const COMPACTION_LOCK = "7163850512018600002";
/** Customers compacted per transaction, and how long one such transaction may take. */
const COMPACT_CHUNK = 1000;
const COMPACT_TIMEOUT_MS = 120_000;

/** An event as the profile query returns it: [type, at_ms, amount, paid_late, fields]. */
type EventTuple = [CustomerEvent["type"], number, number | null, boolean | null, Record<string, FieldValue> | null];

export class PostgresCustomerData implements CustomerData {
  /** `owned`: close() ends the pool (connect() made it for this store alone). */
  constructor(
    private readonly db: Database,
    private readonly owned = false,
  ) {}

  /** A store with a pool of its own on `url`, the schema migrated. */
  static async connect(url: string, options: PostgresOptions = {}): Promise<PostgresCustomerData> {
    return new PostgresCustomerData(await Database.connect(url, options), true);
  }

  async ingest(events: CustomerEvent[]): Promise<IngestResult[]> {
    const ats = events.map((e) => eventTime(e.at));
    const bad = ats.flatMap((at, i) => (Number.isNaN(at) ? [{ path: [i, "at"], message: `"${events[i].at}" is not a timestamp` }] : []));
    if (bad.length) throw new CustomerDataRefusal("events not applied", bad);
    const rows = events.map((e, i) => ({
      customer_id: e.customer_id,
      event_id: e.event_id,
      type: e.type,
      at_ms: ats[i],
      amount: e.type === "billing" || e.type === "usage" ? e.amount : null,
      paid_late: e.type === "billing" ? e.paid_late : null,
      fields: e.type === "profile" ? profileFields(e) : null,
    }));
    const inserted = await this.db.run((sql) => sql.begin(async (tx) => {
      const cutoff = await this.lockedCutoff(tx);
      const old = ats.flatMap((at, i) =>
        at < cutoff ? [{ path: [i, "at"], message: `${events[i].at} is before the compaction cutoff ${new Date(cutoff).toISOString()}: events that old are no longer applied` }] : [],
      );
      if (old.length) throw new CustomerDataRefusal("events not applied", old);
      return tx<{ customer_id: string; event_id: string }[]>`
        INSERT INTO customer_events (customer_id, event_id, type, at_ms, amount, paid_late, fields)
        SELECT customer_id, event_id, type, at_ms, amount, paid_late, fields
        FROM ${recordset(tx, rows)}
          AS x(customer_id text, event_id text, type text, at_ms bigint, amount double precision, paid_late boolean, fields jsonb)
        ON CONFLICT DO NOTHING
        RETURNING customer_id, event_id`;
    }));
    // The first copy of an id within the batch is the one inserted; later copies are duplicates.
    const fresh = new Set(inserted.map((r) => `${r.customer_id}\n${r.event_id}`));
    return events.map((e) => ({ event_id: e.event_id, status: fresh.delete(`${e.customer_id}\n${e.event_id}`) ? "applied" : "duplicate" }));
  }

  async importRows(rows: CustomerRow[]): Promise<void> {
    // One statement may not update a row twice: the last row of a customer wins, as in the embedded store.
    const last = new Map<string, Record<string, FieldValue>>();
    for (const r of rows) last.set(r.customer_id, withoutNulls(r.fields));
    if (last.size === 0) return;
    await this.db.run((sql) => sql`
      INSERT INTO customer_rows (customer_id, fields)
      SELECT customer_id, fields FROM ${recordset(sql, [...last].map(([customer_id, fields]) => ({ customer_id, fields })))}
        AS x(customer_id text, fields jsonb)
      ON CONFLICT (customer_id) DO UPDATE SET fields = EXCLUDED.fields`);
  }

  async profile(customerId: string, at: number): Promise<Profile | undefined> {
    return oneProfile(this, customerId, at);
  }

  /** One query for all: each customer's row, summary and events. */
  async profiles(queries: readonly ProfileQuery[]): Promise<(Profile | undefined)[]> {
    const ids = [...new Set(queries.map((q) => q.customer_id))];
    const rows = await this.db.run((sql) => sql<{ customer_id: string; cutoff: number; fields: Record<string, FieldValue> | null; summary: Summary | null; events: EventTuple[] | null }[]>`
      SELECT x.id AS customer_id,
        (SELECT cutoff_ms FROM customer_data_cutoff) AS cutoff,
        (SELECT fields FROM customer_rows WHERE customer_id = x.id) AS fields,
        (SELECT summary FROM customer_summaries WHERE customer_id = x.id) AS summary,
        (SELECT json_agg(json_build_array(type, at_ms, amount, paid_late, fields))
           FROM customer_events WHERE customer_id = x.id) AS events
      FROM ${texts(sql, ids)} AS x(id)`);
    refuseBeforeHorizon(queries, horizonOf(rows[0]?.cutoff ?? -Infinity));
    const byId = new Map(rows.map((r) => [r.customer_id, r]));
    return queries.map(({ customer_id, at }) => {
      const r = byId.get(customer_id);
      if (!r || (!r.fields && !r.summary && !r.events)) return undefined;
      const strings = new StringTable();
      return deriveProfile(toRows(r.summary, r.events ?? [], strings), at, strings.list, r.fields ?? undefined);
    });
  }

  async compact(before: number): Promise<void> {
    await this.db.run((sql) => sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${CUTOFF_LOCK}::bigint)`;
      await tx`UPDATE customer_data_cutoff SET cutoff_ms = greatest(cutoff_ms, ${before})`;
    }), COMPACT_TIMEOUT_MS);
    // Chunk by chunk, one replica at a time: each chunk reads the summaries as the last one left them.
    for (;;) {
      const done = await this.db.run((sql) => sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${COMPACTION_LOCK}::bigint)`;
        const chunk = await tx<{ customer_id: string; summary: Summary | null; events: EventTuple[] }[]>`
          WITH c AS (SELECT DISTINCT customer_id FROM customer_events WHERE at_ms < ${before} LIMIT ${COMPACT_CHUNK})
          SELECT c.customer_id, s.summary,
            (SELECT json_agg(json_build_array(type, at_ms, amount, paid_late, fields))
               FROM customer_events e WHERE e.customer_id = c.customer_id AND e.at_ms < ${before}) AS events
          FROM c LEFT JOIN customer_summaries s USING (customer_id)`;
        if (chunk.length === 0) return true;
        const summaries = chunk.map((c) => {
          const strings = new StringTable();
          const rows = toRows(c.summary, c.events, strings);
          return { customer_id: c.customer_id, summary: summarize(rows, rows.length, strings.list) };
        });
        await tx`
          INSERT INTO customer_summaries (customer_id, summary)
          SELECT customer_id, summary FROM ${recordset(tx, summaries)} AS x(customer_id text, summary jsonb)
          ON CONFLICT (customer_id) DO UPDATE SET summary = EXCLUDED.summary`;
        await tx`DELETE FROM customer_events WHERE customer_id IN (SELECT ${texts(tx, chunk.map((c) => c.customer_id))}) AND at_ms < ${before}`;
        return false;
      }), COMPACT_TIMEOUT_MS);
      if (done) return;
    }
  }

  async horizon(): Promise<number> {
    const [r] = await this.db.run((sql) => sql<{ cutoff_ms: number }[]>`SELECT cutoff_ms FROM customer_data_cutoff`);
    return horizonOf(r.cutoff_ms);
  }

  async close(): Promise<void> {
    if (this.owned) await this.db.close();
  }

  private async lockedCutoff(tx: TransactionSql): Promise<number> {
    await tx`SELECT pg_advisory_xact_lock_shared(${CUTOFF_LOCK}::bigint)`;
    // A statement of its own, so that it reads the cutoff as of after the lock was granted.
    const [r] = await tx<{ cutoff_ms: number }[]>`SELECT cutoff_ms FROM customer_data_cutoff`;
    return r.cutoff_ms;
  }
}

/** The rows derive() reads: the summary's, then the events', sorted. */
function toRows(summary: Summary | null, events: EventTuple[], strings: StringTable): RowBuffer {
  const rows = new RowBuffer();
  const push = rows.push.bind(rows);
  if (summary) summaryRows(summary, strings, push);
  for (const [type, at, amount, paid_late, fields] of events) {
    const facts: EventFacts = { type, amount, paid_late, ...fields };
    eventRows(facts, at, strings, push);
  }
  rows.sort();
  return rows;
}

function profileFields(e: CustomerEvent & { type: "profile" }): Record<string, FieldValue> {
  const fields: Record<string, FieldValue> = {};
  for (const f of PROFILE_FIELDS) if (e[f] !== undefined) fields[f] = e[f];
  return fields;
}

function withoutNulls(fields: Record<string, FieldValue | null>): Record<string, FieldValue> {
  const kept: Record<string, FieldValue> = {};
  for (const k in fields) if (fields[k] !== null) kept[k] = fields[k];
  return kept;
}
