// The workflow outbox in PostgreSQL: entries are made with their intervention's start
// (cooldowns.ts) and delivered by whichever replica claims them. A claim takes due entries with
// FOR UPDATE SKIP LOCKED, so replicas polling at once take different ones, and leases them in the
// database's clock for longer than a webhook call may take; an entry whose replica died mid-call
// is claimed again once its lease runs out. Delivery is at least once (Idempotency-Key: the
// prediction id), and exactly once while the webhook answers within its timeout.
import type { WorkflowPayload, WorkflowStatus } from "../../contract/storage.ts";
import type { OutboxOptions } from "../outbox.ts";
import { postWorkflow, retryDelay } from "../webhook.ts";
import type { Database } from "./connect.ts";

type Claimed = { prediction_id: string; payload: WorkflowPayload; headers: Record<string, string> | null; attempts: number };
type Counts = { pending: number; retrying: number; delivered: number; dead: number; oldest: number | null };

export class PostgresOutbox {
  private readonly o: Required<Omit<OutboxOptions, "url" | "commitIntervalMs">> & { url: string | null; pollMs: number; leaseMs: number };
  private inFlight = 0;
  private claiming = false;
  private closed = false;
  private poller: ReturnType<typeof setInterval> | null = null;
  private counter: ReturnType<typeof setInterval>;
  private counts: Counts = { pending: 0, retrying: 0, delivered: 0, dead: 0, oldest: null };
  /** Outcomes of calls not yet written (the database was away): retried until written or their lease is over. */
  private readonly unwritten = new Map<string, { write: () => Promise<unknown>; until: number }>();

  constructor(
    private readonly db: Database,
    private readonly replica: string,
    options: OutboxOptions & { pollMs?: number } = {},
  ) {
    const timeoutMs = options.timeoutMs ?? 5_000;
    this.o = {
      maxAttempts: 8, baseDelayMs: 500, maxDelayMs: 60_000, concurrency: 8, retryMs: 1000, pollMs: 200,
      ...options, timeoutMs, url: options.url ?? null,
      // Longer than a call can take (it is abandoned at the timeout) plus the time to write its result.
      leaseMs: timeoutMs + 5_000,
    };
    // A count reads the whole table (delivered entries are kept for the log's retention): every ten seconds.
    this.counter = setInterval(() => void this.count(), 10_000);
    this.counter.unref?.();
  }

  /** Starts claiming and delivering (nothing without a URL: entries are recorded for a replica that has one). */
  async start(): Promise<void> {
    await this.count();
    if (!this.o.url) return;
    this.poller = setInterval(() => void this.pump(), this.o.pollMs);
    this.poller.unref?.();
    void this.pump();
  }

  /** The fleet's entries by state, as counted at most ten seconds ago. */
  status(): WorkflowStatus {
    const c = this.counts;
    const url = this.o.url;
    return { url, pending: url ? c.pending : 0, retrying: c.retrying, delivered: c.delivered, dead: c.dead, recorded: url ? 0 : c.pending, oldest_pending_at: c.oldest };
  }

  private async count(): Promise<void> {
    try {
      const [c] = await this.db.run((sql) => sql<Counts[]>`
        SELECT count(*) FILTER (WHERE state = 'pending')::int AS pending,
               count(*) FILTER (WHERE state = 'pending' AND attempts > 0)::int AS retrying,
               count(*) FILTER (WHERE state = 'delivered')::int AS delivered,
               count(*) FILTER (WHERE state = 'dead')::int AS dead,
               (min(created_ms) FILTER (WHERE state = 'pending'))::float8 AS oldest
        FROM workflow_entries`, 10_000);
      this.counts = c;
    } catch {
      // Counted again in ten seconds; the database's health is reported elsewhere.
    }
  }

  /** Claims as many due entries as there are free slots, and delivers them. */
  private async pump(): Promise<void> {
    if (this.closed || this.claiming) return;
    await this.writeUnwritten();
    const free = this.o.concurrency - this.inFlight;
    if (free <= 0) return;
    this.claiming = true;
    let claimed: Claimed[] = [];
    try {
      claimed = await this.db.run((sql) => sql<Claimed[]>`
        UPDATE workflow_entries w SET claimed_by = ${this.replica}, lease_until_ms = churn_now_ms() + ${this.o.leaseMs}
        FROM (SELECT prediction_id FROM workflow_entries
              WHERE state = 'pending' AND next_ms <= churn_now_ms() AND (lease_until_ms IS NULL OR lease_until_ms < churn_now_ms())
              ORDER BY next_ms LIMIT ${free} FOR UPDATE SKIP LOCKED) due
        WHERE w.prediction_id = due.prediction_id
        RETURNING w.prediction_id::text AS prediction_id, w.payload, w.headers, w.attempts`);
    } catch {
      // Claimed again at the next poll, once the database is back.
    } finally {
      this.claiming = false;
    }
    for (const entry of claimed) void this.deliver(entry);
    // A full claim means more may be due: claim again as soon as slots free up (deliver pumps).
  }

  private async deliver(entry: Claimed): Promise<void> {
    this.inFlight++;
    let error: string;
    try {
      error = await postWorkflow(this.o.url!, entry.payload, entry.headers ?? undefined, this.o.timeoutMs);
    } finally {
      this.inFlight--;
    }
    const id = entry.prediction_id;
    const attempts = entry.attempts + 1;
    const dead = error !== "" && attempts >= this.o.maxAttempts;
    const delay = error === "" || dead ? 0 : retryDelay(attempts, this.o.baseDelayMs, this.o.maxDelayMs);
    // Only while this replica still holds the claim: after its lease another may have taken it.
    const write = () => this.db.run((sql) => error === ""
      ? sql`UPDATE workflow_entries SET state = 'delivered', done_ms = churn_now_ms(), attempts = ${attempts}, claimed_by = NULL, lease_until_ms = NULL
            WHERE prediction_id = ${id} AND claimed_by = ${this.replica}`
      : sql`UPDATE workflow_entries SET state = ${dead ? "dead" : "pending"}, attempts = ${attempts}, last_error = ${error},
              next_ms = churn_now_ms() + ${Math.round(delay)}, done_ms = ${dead ? sql`churn_now_ms()` : null}, claimed_by = NULL, lease_until_ms = NULL
            WHERE prediction_id = ${id} AND claimed_by = ${this.replica}`);
    try {
      await write();
    } catch {
      this.unwritten.set(id, { write, until: Date.now() + this.o.leaseMs });
    }
    if (!this.closed) void this.pump();
  }

  /** Writes the outcomes of calls made while the database was away; past their lease the entry is another's to deliver again. */
  private async writeUnwritten(): Promise<void> {
    for (const [id, u] of this.unwritten) {
      if (Date.now() > u.until) {
        this.unwritten.delete(id);
        continue;
      }
      try {
        await u.write();
        this.unwritten.delete(id);
      } catch {
        return;
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    clearInterval(this.counter);
    const deadline = Date.now() + this.o.timeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await this.writeUnwritten();
  }
}
