// The intervention workflow's outbox: every `should_intervene` recommendation is recorded
// durably, then POSTed to the configured webhook with `Idempotency-Key: <prediction_id>`,
// retried with exponential backoff and jitter, at least once, across restarts. Without a URL the
// entries are only recorded. After `maxAttempts` an entry is dead-lettered (visible in status).
import { join } from "node:path";
import { rename } from "node:fs/promises";
import type { PredictionObserver, PredictionRecord } from "../contract/records.ts";
import { JsonlWriter, readJsonl } from "./jsonl.ts";

export interface WorkflowPayload {
  prediction_id: string;
  customer_id: string;
  intervention: string;
  cost: number | null;
  expected_value: number | null;
  churn_probability: number;
  predicted_churn_reduction: number | null;
  model_version: string;
  at: string;
}

export interface OutboxOptions {
  url?: string;
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
  concurrency?: number;
  commitIntervalMs?: number;
  /** Headers of the request that made an entry (request id, traceparent), kept with it and sent with its webhook. */
  correlation?: () => Record<string, string>;
}

export interface OutboxStatus {
  url: string | null;
  pending: number;
  retrying: number;
  delivered: number;
  dead: number;
  /** Recorded without a URL to deliver to. */
  recorded: number;
  /** When the oldest undelivered entry was made (ms since the epoch); null with none. */
  oldest_pending_at: number | null;
}

type Entry =
  | { t: "enqueued"; payload: WorkflowPayload; headers?: Record<string, string> }
  | { t: "attempt"; id: string; attempts: number; error: string; next_at: number }
  | { t: "delivered"; id: string; at: number }
  | { t: "dead"; id: string; attempts: number; error: string };

interface Item {
  payload: WorkflowPayload;
  headers?: Record<string, string>;
  attempts: number;
  nextAt: number;
  lastError?: string;
}

export class Outbox implements PredictionObserver {
  /** Entries still to deliver; without a URL none are held, only counted (`recorded`). */
  private readonly items = new Map<string, Item>();
  private recorded = 0;
  private delivered = 0;
  private dead = 0;
  private inFlight = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private readonly o: Required<Omit<OutboxOptions, "url" | "correlation">> & Pick<OutboxOptions, "correlation"> & { url: string | null };

  private constructor(private writer: JsonlWriter, options: OutboxOptions) {
    this.o = { maxAttempts: 8, baseDelayMs: 500, maxDelayMs: 60_000, timeoutMs: 5_000, concurrency: 4, commitIntervalMs: 10, ...options, url: options.url ?? null };
  }

  /** Opens (and compacts) the outbox in `dir`; undelivered entries resume delivery. */
  static async open(dir: string, options: OutboxOptions = {}): Promise<Outbox> {
    const path = join(dir, "outbox.jsonl");
    const items = new Map<string, Item>();
    let delivered = 0;
    let dead = 0;
    await readJsonl<Entry>(path, (e) => {
      if (e.t === "enqueued") items.set(e.payload.prediction_id, { payload: e.payload, headers: e.headers, attempts: 0, nextAt: 0 });
      else if (e.t === "attempt") Object.assign(items.get(e.id) ?? {}, { attempts: e.attempts, nextAt: e.next_at, lastError: e.error });
      else if (e.t === "delivered" && items.delete(e.id)) delivered++;
      else if (e.t === "dead" && items.delete(e.id)) dead++;
    });
    // Compaction: the rewritten file holds only what is still to deliver.
    const tmp = `${path}.tmp`;
    const fresh = await JsonlWriter.open(tmp, options.commitIntervalMs ?? 10);
    for (const item of items.values()) {
      fresh.append({ t: "enqueued", payload: item.payload, headers: item.headers });
      if (item.attempts) fresh.append({ t: "attempt", id: item.payload.prediction_id, attempts: item.attempts, error: item.lastError ?? "", next_at: item.nextAt });
    }
    await fresh.close();
    await rename(tmp, path);
    const outbox = new Outbox(await JsonlWriter.open(path, options.commitIntervalMs ?? 10), options);
    for (const [id, item] of items) outbox.hold(id, item);
    outbox.delivered = delivered;
    outbox.dead = dead;
    outbox.pump();
    return outbox;
  }

  onPredictions(records: PredictionRecord[]): void {
    const headers = this.o.correlation?.();
    for (const r of records) {
      if (!r.should_intervene || !r.recommended_intervention) continue;
      const payload: WorkflowPayload = {
        prediction_id: r.prediction_id, customer_id: r.customer_id, intervention: r.recommended_intervention, cost: r.cost,
        expected_value: r.expected_value, churn_probability: r.churn_probability, predicted_churn_reduction: r.predicted_churn_reduction,
        model_version: r.model_version, at: new Date(r.at).toISOString(),
      };
      this.writer.append({ t: "enqueued", payload, headers });
      this.hold(payload.prediction_id, { payload, headers, attempts: 0, nextAt: 0 });
    }
    this.pump();
  }

  /** Keeps an entry for delivery; without a URL it stays in the file (a later start with a URL delivers it). */
  private hold(id: string, item: Item): void {
    if (this.o.url) this.items.set(id, item);
    else this.recorded++;
  }

  status(): OutboxStatus {
    let retrying = 0;
    let oldest: string | null = null;
    for (const item of this.items.values()) {
      if (item.attempts > 0) retrying++;
      if (oldest === null || item.payload.at < oldest) oldest = item.payload.at; // ISO times compare as text
    }
    return {
      url: this.o.url, pending: this.items.size, retrying, delivered: this.delivered, dead: this.dead, recorded: this.recorded,
      oldest_pending_at: oldest === null ? null : Date.parse(oldest),
    };
  }

  /** Resolves once every enqueued entry is durable. */
  flushed(): Promise<void> {
    return this.writer.flushed();
  }

  /** Starts deliveries that are due, up to the concurrency; schedules the next due one. */
  private pump(): void {
    if (!this.o.url || this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const now = Date.now();
    let next = Infinity;
    for (const item of this.items.values()) {
      if (item.nextAt < 0) continue; // in flight
      if (item.nextAt > now) {
        next = Math.min(next, item.nextAt);
        continue;
      }
      if (this.inFlight >= this.o.concurrency) {
        next = now + 10;
        break;
      }
      void this.deliver(item);
    }
    if (next < Infinity) {
      this.timer = setTimeout(() => this.pump(), Math.max(0, next - now));
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  private async deliver(item: Item): Promise<void> {
    const id = item.payload.prediction_id;
    item.nextAt = -1;
    this.inFlight++;
    let error = "";
    try {
      // The entry must be durable before the workflow hears of it.
      await this.writer.flushed();
      const res = await fetch(this.o.url!, {
        method: "POST",
        headers: { ...item.headers, "content-type": "application/json", "idempotency-key": id },
        body: JSON.stringify(item.payload),
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) {
        this.items.delete(id);
        this.delivered++;
        this.writer.append({ t: "delivered", id, at: Date.now() });
      } else {
        error = `HTTP ${res.status}`;
      }
    } catch (err) {
      error = (err as Error).name === "TimeoutError" ? `timed out after ${this.o.timeoutMs} ms` : (err as Error).message;
    } finally {
      this.inFlight--;
    }
    if (error && this.items.has(id)) {
      item.attempts++;
      item.lastError = error;
      if (item.attempts >= this.o.maxAttempts) {
        this.items.delete(id);
        this.dead++;
        this.writer.append({ t: "dead", id, attempts: item.attempts, error });
      } else {
        const backoff = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** (item.attempts - 1));
        item.nextAt = Date.now() + backoff * (0.5 + Math.random() * 0.5);
        this.writer.append({ t: "attempt", id, attempts: item.attempts, error, next_at: item.nextAt });
      }
    }
    this.pump();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.writer.close();
  }
}
