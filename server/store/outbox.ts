// The intervention workflow's outbox: every `should_intervene` recommendation is POSTed to the
// configured webhook with `Idempotency-Key: <prediction_id>`, retried with exponential backoff and
// jitter, at least once, across restarts. Without a URL the entries are only recorded, for as long
// as the log keeps their lines (a start with a URL within that time delivers them). After
// `maxAttempts` an entry is dead-lettered (visible in status).
//
// An entry is made in the same commit as its prediction: the log's line is the entry (log.ts), and
// it is posted only once that commit is durable. This file keeps delivery state only — attempts,
// delivered and dead marks — and the entries a process with a URL took on whose log segment was
// deleted before they were delivered ("carried", so that retention never drops one). At a start
// the outbox is rebuilt from both: `open`, then the log's open (which restores its entries), then `start`.
import { join } from "node:path";
import type { PredictionRecord } from "../contract/records.ts";
import { workflowPayload, type WorkflowPayload, type WorkflowStatus } from "../contract/storage.ts";
import { JsonlWriter, readJsonl, replaceJsonl } from "./jsonl.ts";
import type { ExpiringSegment, LogWorkflow } from "./log.ts";
import { postWorkflow, retryDelay } from "./webhook.ts";

export interface OutboxOptions {
  url?: string;
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A webhook call not answered by then is abandoned (and retried): its slot is free again. */
  timeoutMs?: number;
  /** Webhook calls in flight at most. */
  concurrency?: number;
  commitIntervalMs?: number;
  /** After a failed write of the delivery state, how long until the next attempt. */
  retryMs?: number;
}


/** What the outbox needs of the log that holds its entries. */
export interface WorkflowLog {
  readonly durableSeq: number;
  flushed(): Promise<void>;
}

type Headers = Record<string, string>;
type Attempt = { t: "attempt"; id: string; attempts: number; error: string; next_at: number };
type Done = { t: "delivered"; id: string; at: number } | { t: "dead"; id: string; attempts: number; error: string };
type Entry =
  /** An entry kept here because its log segment was deleted undelivered ("enqueued": written by earlier versions). */
  | { t: "carried" | "enqueued"; payload: WorkflowPayload; headers?: Headers }
  | Attempt
  | Done;

interface Item {
  payload: WorkflowPayload;
  headers?: Headers;
  attempts: number;
  /** When the next attempt is due (ms since the epoch); -1 while one is in flight. */
  nextAt: number;
  lastError?: string;
  /** The log line that holds it (durable once the log's durableSeq reaches it); 0: in this file. */
  seq: number;
  /** Held by a retained log segment (else by this file). */
  inLog: boolean;
}

export class Outbox implements LogWorkflow {
  /** Entries still to deliver; without a URL they are held only until `start`, then only counted (`recorded`). */
  private readonly items = new Map<string, Item>();
  /** Delivered or dead-lettered, as this file said at open. */
  private readonly done = new Map<string, Done>();
  /** The latest attempt on each entry the log holds, as this file said at open: the log's open restores the entries. */
  private readonly attempts = new Map<string, Attempt>();
  /** Of those, the ones whose log line is still retained: their marks are kept when the file is compacted. */
  private readonly doneInLog = new Set<string>();
  private recorded = 0;
  private delivered = 0;
  private dead = 0;
  private inFlight = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private waitingForLog = false;
  private closed = false;
  private writer: JsonlWriter | null = null;
  private log: WorkflowLog | null = null;
  private readonly path: string;
  private readonly o: Required<Omit<OutboxOptions, "url">> & { url: string | null };

  private constructor(dir: string, options: OutboxOptions) {
    this.path = join(dir, "outbox.jsonl");
    this.o = {
      maxAttempts: 8, baseDelayMs: 500, maxDelayMs: 60_000, timeoutMs: 5_000, concurrency: 8, commitIntervalMs: 10, retryMs: 1000,
      ...options, url: options.url ?? null,
    };
  }

  /** Reads the delivery state in `dir`. Then open the log with this outbox as its workflow, then `start` it. */
  static async open(dir: string, options: OutboxOptions = {}): Promise<Outbox> {
    const outbox = new Outbox(dir, options);
    await readJsonl<Entry>(outbox.path, (e) => {
      if (e.t === "attempt") {
        const item = outbox.items.get(e.id);
        if (item) Object.assign(item, { attempts: e.attempts, nextAt: e.next_at, lastError: e.error });
        else outbox.attempts.set(e.id, e);
      } else if (e.t === "delivered" || e.t === "dead") {
        if (outbox.done.has(e.id)) return;
        outbox.items.delete(e.id);
        outbox.attempts.delete(e.id);
        outbox.done.set(e.id, e);
        if (e.t === "delivered") outbox.delivered++;
        else outbox.dead++;
      } else if (!outbox.done.has(e.payload.prediction_id)) {
        outbox.items.set(e.payload.prediction_id, { payload: e.payload, headers: e.headers, attempts: 0, nextAt: 0, seq: 0, inLog: false });
      }
    });
    return outbox;
  }

  /** From the log's open: an intervention it holds, undelivered unless this file says otherwise. */
  restore(record: PredictionRecord, headers: Headers | undefined, seq: number): void {
    const id = record.prediction_id;
    if (this.done.has(id)) {
      this.doneInLog.add(id);
      return;
    }
    if (this.items.has(id)) return; // carried here before: the file's copy stays authoritative
    const item: Item = { payload: workflowPayload(record), headers, attempts: 0, nextAt: 0, seq, inLog: true };
    const tried = this.attempts.get(id);
    if (tried) Object.assign(item, { attempts: tried.attempts, nextAt: tried.next_at, lastError: tried.error });
    this.items.set(id, item);
  }

  /**
   * After the log's open: compacts this file to what is still needed (undelivered entries it
   * carries, their attempts, the marks of entries the log still holds), replacing it only once the
   * new one is complete and synced; then starts delivering.
   */
  async start(log: WorkflowLog): Promise<void> {
    this.log = log;
    const doneMarks = [...this.doneInLog].map((id) => this.done.get(id)!);
    const compacted = function* (items: Map<string, Item>): Iterable<Entry> {
      for (const item of items.values()) {
        const id = item.payload.prediction_id;
        if (!item.inLog) yield { t: "carried", payload: item.payload, headers: item.headers };
        if (item.attempts) yield { t: "attempt", id, attempts: item.attempts, error: item.lastError ?? "", next_at: item.nextAt };
      }
      yield* doneMarks;
    };
    try {
      await replaceJsonl(this.path, compacted(this.items));
    } catch (err) {
      // Compaction is an economy: the file as it was still says everything.
      console.warn(`outbox not compacted: ${(err as Error).message}`);
    }
    this.writer = await JsonlWriter.open(this.path, { commitIntervalMs: this.o.commitIntervalMs, retryMs: this.o.retryMs });
    if (!this.o.url) {
      // Recorded only: counted, not held; a later start with a URL delivers them. What was
      // delivered before stays known, to tell what a deleted segment still owed.
      this.recorded = this.items.size;
      this.items.clear();
      for (const id of this.done.keys()) if (!this.doneInLog.has(id)) this.done.delete(id);
    } else {
      this.done.clear();
    }
    this.doneInLog.clear();
    this.attempts.clear();
    this.pump();
  }

  /** From the log: an intervention appended as its line `seq`, in the same commit as its prediction. */
  enqueue(record: PredictionRecord, headers: Headers | undefined, seq: number): void {
    if (!this.o.url) {
      this.recorded++;
      return;
    }
    this.items.set(record.prediction_id, { payload: workflowPayload(record), headers, attempts: 0, nextAt: 0, seq, inLog: true });
    this.pump();
  }

  /**
   * From the log, before it deletes a segment: carries the segment's undelivered entries into this
   * file. With a URL every undelivered entry is in memory with its log line, so the segment is not
   * read. Without one, what this process recorded goes with the log's retention; a segment an
   * earlier process wrote is read, as it may hold entries a process with a URL took on and did not
   * deliver (and what a process without one recorded before: both carried, unless delivered).
   */
  async expire(segment: ExpiringSegment): Promise<void> {
    const writer = this.writer;
    if (!writer) throw new Error("outbox not started");
    let carried = 0;
    if (this.o.url) {
      for (const item of this.items.values()) {
        if (!item.inLog || item.seq > segment.throughSeq) continue;
        item.inLog = false;
        writer.append({ t: "carried", payload: item.payload, headers: item.headers });
        if (item.attempts) writer.append({ t: "attempt", id: item.payload.prediction_id, attempts: item.attempts, error: item.lastError ?? "", next_at: item.nextAt });
        carried++;
      }
    } else if (segment.earlierRun) {
      // Only a line with a key "w" can be a workflow entry (a quote inside a JSON string is
      // escaped, so the text `"w":` is a key): the segment's other lines are not parsed at all.
      await readJsonl<PredictionRecord & { t: string; w?: { headers?: Headers } }>(segment.path, (line) => {
        if (line.t !== "p" || !line.w || !line.should_intervene || !line.recommended_intervention) return;
        if (this.done.delete(line.prediction_id)) return;
        writer.append({ t: "carried", payload: workflowPayload(line), headers: line.w.headers });
        carried++;
      }, (text) => text.includes('"w":'));
    }
    if (carried > 0) await writer.flushed();
  }

  status(): WorkflowStatus {
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

  /** Resolves once the delivery state written so far is durable. */
  flushed(): Promise<void> {
    return this.writer?.flushed() ?? Promise.resolve();
  }

  /** Starts deliveries that are due and durable, up to the concurrency; schedules the next due one. */
  private pump(): void {
    if (!this.o.url || this.closed || !this.log) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const now = Date.now();
    const durable = this.log.durableSeq;
    let next = Infinity;
    let undurable = false;
    for (const item of this.items.values()) {
      if (this.inFlight >= this.o.concurrency) return; // a finishing call pumps again
      if (item.nextAt < 0) continue; // in flight
      if (item.seq > durable) {
        // Posted only once the commit holding it is durable: the workflow never hears of an unlogged prediction.
        undurable = true;
        continue;
      }
      if (item.nextAt > now) next = Math.min(next, item.nextAt);
      else void this.deliver(item);
    }
    if (undurable && !this.waitingForLog) {
      this.waitingForLog = true;
      void this.log.flushed().then(() => {
        this.waitingForLog = false;
        this.pump();
      });
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
    let error: string;
    try {
      error = await postWorkflow(this.o.url!, item.payload, item.headers, this.o.timeoutMs);
    } finally {
      this.inFlight--;
    }
    if (this.closed) return;
    if (!error) {
      this.items.delete(id);
      this.delivered++;
      this.writer!.append({ t: "delivered", id, at: Date.now() });
    } else {
      item.attempts++;
      item.lastError = error;
      if (item.attempts >= this.o.maxAttempts) {
        this.items.delete(id);
        this.dead++;
        this.writer!.append({ t: "dead", id, attempts: item.attempts, error });
      } else {
        item.nextAt = Date.now() + retryDelay(item.attempts, this.o.baseDelayMs, this.o.maxDelayMs);
        this.writer!.append({ t: "attempt", id, attempts: item.attempts, error, next_at: item.nextAt });
      }
    }
    this.pump();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.writer?.close();
  }
}
