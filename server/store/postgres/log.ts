// The prediction log in PostgreSQL, shared by every replica. Predictions are group-committed as
// in the embedded log: appended without blocking the answer, inserted every `commitIntervalMs` in
// one statement, and counted as logged once that commits (`durableSeq`). A failed insert keeps
// its rows queued and is retried (idempotent: ON CONFLICT DO NOTHING) until the database takes
// them. Outcomes are written before their answer: the primary key on prediction_id makes a second
// outcome for a prediction a conflict whichever replica it reaches. Retention deletes predictions
// and outcomes older than `retentionMs` (and the workflow entries done with by then), one replica
// at a time.
import type { JoinedPrediction, LabelledOutcome, PredictionRecord } from "../../contract/records.ts";
import type { OutcomeKey, PredictionLog } from "../../contract/storage.ts";
import { experimentOf } from "../experiment-columns.ts";
import { UnavailableError } from "../../contract/errors.ts";
import { recordset, type Database } from "./connect.ts";

export interface PostgresLogOptions {
  commitIntervalMs?: number;
  /** After a failed insert, how long until the next attempt. */
  retryMs?: number;
  /** An outcome given by customer id joins the customer's latest prediction only if made this recently (90 days). */
  outcomeCustomerWindowMs?: number;
  /** Predictions and outcomes older than this are deleted (30 days). */
  retentionMs?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** pg_try_advisory_xact_lock key of retention: one replica deletes at a time. */
const RETENTION_LOCK = "7163850512018600003";
/** A batch's insert may take this long before it counts as failed (and is retried). */
const INSERT_TIMEOUT_MS = 10_000;
/** How long an outcome waits before looking again for a prediction it did not find (another replica's commit in flight). */
const IN_FLIGHT_WAIT_MS = 250;

type JoinRow = { i: number; prediction_id: string; churn_probability: number; experiment: JoinedPrediction["experiment"] | null; labelled: boolean };

export class PostgresLog implements PredictionLog {
  private queue: PredictionRecord[] = [];
  private appended = 0;
  private durable = 0;
  /** The insert in flight, if any: resolves true when it committed. */
  private inserting: Promise<boolean> | null = null;
  /** A failure of the inserts themselves (not the database being away, which `db.error` says). */
  private insertError: Error | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly waiters: { seq: number; resolve: () => void }[] = [];
  private readonly retention: ReturnType<typeof setInterval>;
  private readonly o: Required<PostgresLogOptions>;

  constructor(
    private readonly db: Database,
    private readonly replica: string,
    options: PostgresLogOptions = {},
  ) {
    this.o = { commitIntervalMs: 10, retryMs: 1000, outcomeCustomerWindowMs: 90 * 86_400_000, retentionMs: 30 * 86_400_000, ...options };
    this.retention = setInterval(() => void this.expire().catch((err) => console.error(`prediction log retention failed: ${(err as Error).message}`)), 3_600_000);
    this.retention.unref?.();
  }

  get durableSeq(): number {
    return this.durable;
  }

  get appendedSeq(): number {
    return this.appended;
  }

  get writeError(): Error | null {
    return this.db.error ?? this.insertError;
  }

  onPredictions(records: PredictionRecord[]): void {
    this.queue.push(...records);
    this.appended += records.length;
    this.schedule(this.o.commitIntervalMs);
  }

  flushed(): Promise<void> {
    if (this.durable >= this.appended) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ seq: this.appended, resolve }));
  }

  private schedule(ms: number): void {
    if (this.timer || this.inserting) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.insert();
    }, ms);
  }

  /** Commits what is appended so far, now (after any insert in flight); false as soon as an insert fails. */
  private async commitNow(): Promise<boolean> {
    const target = this.appended;
    while (this.durable < target) {
      if (this.inserting) {
        await this.inserting;
        continue;
      }
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      if (!(await this.insert())) return false;
    }
    return true;
  }

  private insert(): Promise<boolean> {
    this.inserting = this.insertQueued().finally(() => {
      this.inserting = null;
      if (this.queue.length > 0) this.schedule(this.writeError ? this.o.retryMs : this.o.commitIntervalMs);
    });
    return this.inserting;
  }

  /** One statement for everything queued; on failure the rows go back to the front of the queue. */
  private async insertQueued(): Promise<boolean> {
    if (this.queue.length === 0) return true;
    const batch = this.queue;
    this.queue = [];
    const rows = batch.map((r) => ({ prediction_id: r.prediction_id, customer_id: r.customer_id, at_ms: r.at, churn_probability: r.churn_probability, experiment: experimentOf(r) ?? null, record: r }));
    try {
      await this.db.run((sql) => sql`
        INSERT INTO predictions (prediction_id, customer_id, at_ms, replica, churn_probability, experiment, record)
        SELECT prediction_id, customer_id, at_ms, ${this.replica}, churn_probability, experiment, record
        FROM ${recordset(sql, rows)}
          AS x(prediction_id uuid, customer_id text, at_ms bigint, churn_probability double precision, experiment json, record json)
        ON CONFLICT (prediction_id) DO NOTHING`, INSERT_TIMEOUT_MS);
      this.durable += batch.length;
      this.insertError = null;
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        if (this.waiters[i].seq <= this.durable) this.waiters.splice(i, 1)[0].resolve();
      }
      return true;
    } catch (err) {
      this.queue = batch.concat(this.queue);
      // The database being away is the database's state (it clears when it answers again); anything else is the log's.
      if (!(err instanceof UnavailableError)) this.insertError = err as Error;
      return false;
    }
  }

  async join(outcomes: OutcomeKey[]): Promise<((JoinedPrediction & { labelled: boolean }) | undefined)[]> {
    // This replica's own predictions are committed first, so an outcome right after its prediction
    // joins; if they cannot be now, the outcome is refused rather than left waiting.
    if (this.durable < this.appended && !(await this.commitNow())) {
      throw new UnavailableError(`the prediction log cannot commit the predictions this outcome may refer to (${this.writeError?.message ?? "retrying"})`, 2);
    }
    const keys = outcomes.flatMap((o, i): { i: number; prediction_id: string | null; customer_id: string | null }[] =>
      o.prediction_id !== undefined ? (UUID.test(o.prediction_id) ? [{ i, prediction_id: o.prediction_id, customer_id: null }] : []) : [{ i, prediction_id: null, customer_id: o.customer_id ?? null }],
    );
    const found: ((JoinedPrediction & { labelled: boolean }) | undefined)[] = outcomes.map(() => undefined);
    if (keys.length === 0) return found;
    const since = Date.now() - this.o.outcomeCustomerWindowMs;
    await this.lookUp(keys, since, found);
    // A prediction another replica answered moments ago may still be in its group commit: looked for once more.
    const missing = keys.filter((k) => k.prediction_id !== null && found[k.i] === undefined);
    if (missing.length > 0) {
      await new Promise((r) => setTimeout(r, IN_FLIGHT_WAIT_MS));
      await this.lookUp(missing, since, found);
    }
    return found;
  }

  private async lookUp(keys: { i: number; prediction_id: string | null; customer_id: string | null }[], since: number, found: ((JoinedPrediction & { labelled: boolean }) | undefined)[]): Promise<void> {
    const rows = await this.db.run((sql) => sql<JoinRow[]>`
      SELECT x.i, p.prediction_id::text AS prediction_id, p.churn_probability, p.experiment, (o.prediction_id IS NOT NULL) AS labelled
      FROM ${recordset(sql, keys)} AS x(i integer, prediction_id uuid, customer_id text)
      CROSS JOIN LATERAL (
        (SELECT prediction_id, churn_probability, experiment FROM predictions
          WHERE x.prediction_id IS NOT NULL AND prediction_id = x.prediction_id)
        UNION ALL
        (SELECT prediction_id, churn_probability, experiment FROM predictions
          WHERE x.prediction_id IS NULL AND customer_id = x.customer_id AND at_ms >= ${Number.isFinite(since) ? since : 0}
          ORDER BY at_ms DESC LIMIT 1)
        LIMIT 1
      ) p
      LEFT JOIN outcomes o ON o.prediction_id = p.prediction_id`);
    for (const r of rows) {
      found[r.i] = { prediction_id: r.prediction_id, churn_probability: r.churn_probability, labelled: r.labelled, ...(r.experiment ? { experiment: r.experiment } : {}) };
    }
  }

  async label(outcomes: LabelledOutcome[]): Promise<boolean[]> {
    const rows = outcomes.map((o) => ({ prediction_id: o.prediction_id, churned: o.churned, at_ms: o.at, churn_probability: o.churn_probability, experiment: o.experiment ?? null }));
    const inserted = await this.db.run((sql) => sql<{ prediction_id: string }[]>`
      INSERT INTO outcomes (prediction_id, churned, at_ms, churn_probability, experiment)
      SELECT prediction_id, churned, at_ms, churn_probability, experiment
      FROM ${recordset(sql, rows)}
        AS x(prediction_id uuid, churned boolean, at_ms bigint, churn_probability double precision, experiment json)
      ON CONFLICT (prediction_id) DO NOTHING
      RETURNING prediction_id::text`);
    const first = new Set(inserted.map((r) => r.prediction_id));
    return outcomes.map((o) => first.has(o.prediction_id.toLowerCase()));
  }

  /** Deletes what is past retention, unless another replica is doing it now. */
  async expire(now = Date.now()): Promise<void> {
    const before = now - this.o.retentionMs;
    await this.db.run((sql) => sql.begin(async (tx) => {
      const [{ locked }] = await tx<{ locked: boolean }[]>`SELECT pg_try_advisory_xact_lock(${RETENTION_LOCK}::bigint) AS locked`;
      if (!locked) return;
      await tx`DELETE FROM outcomes WHERE at_ms < ${before}`;
      await tx`DELETE FROM predictions WHERE at_ms < ${before}`;
      // Delivered and dead-lettered workflow entries go with their predictions; undelivered ones stay.
      await tx`DELETE FROM workflow_entries WHERE state <> 'pending' AND done_ms < ${before}`;
    }), 600_000);
  }

  /** Waits for what is queued to be inserted (a few seconds at most), then stops. */
  async close(): Promise<void> {
    clearInterval(this.retention);
    const deadline = Date.now() + 5000;
    while (!(await this.commitNow()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
