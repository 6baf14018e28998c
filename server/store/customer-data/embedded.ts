// The embedded customer-data store: durable in a data folder, needing nothing but node:fs, so it
// runs on Node and Deno in one process.
//
// On disk: numbered segments of JSON lines (jsonl.ts: group commit, fsync, torn tails cut), one
// line per ingest batch or import (so a batch is whole or absent after a crash), and at most one
// snapshot folder (snapshot.ts) holding the state as of a segment; open() loads the snapshot and
// replays the segments after it. A batch is acknowledged only once its line is fsynced, and
// applied in memory only then, so what a profile shows is always durable.
// In memory: customers numbered once (one map entry each), their rows in the arena (arena.ts,
// 32 bytes a row), imported rows as objects per customer that has one.
// compact() folds old rows (server/profiles/compact.ts), then snapshots and deletes the segments
// the snapshot covers.
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { CustomerDataRefusal, oneProfile, refuseBeforeHorizon, type CustomerData, type CustomerRow, type FieldValue, type IngestResult, type Profile, type ProfileQuery } from "../../contract/customer-data.ts";
import type { CustomerEvent } from "../../contract/events.ts";
import { summarize, summaryRows, horizonOf } from "../../profiles/compact.ts";
import { deriveProfile } from "../../profiles/derive.ts";
import { decodeValue, eventRows, eventTime, Kind, RowBuffer, StringTable, type EventFacts } from "../../profiles/rows.ts";
import { JsonlWriter, readJsonl } from "../jsonl.ts";
import { EventArena, NO_HASH } from "./arena.ts";
import { idHash } from "./hash.ts";
import { partName, writeSnapshot } from "./snapshot.ts";

export interface EmbeddedOptions {
  /** Group-commit window (jsonl.ts): an ingest resolves at most this long plus an fsync after it is called. Default 2 ms. */
  commitIntervalMs?: number;
  /** A new segment is started past this size. Default 64 MiB. */
  maxSegmentBytes?: number;
}

/** A segment line: a batch of events, or imported rows. */
type Line = { e: StoredEvent[] } | { r: [customerId: string, fields: Record<string, FieldValue | null>][] };
/** [customer_id, event_id, at (ms), type, amount or profile fields, paid_late (billing)] */
type StoredEvent = [string, string, number, CustomerEvent["type"], (number | Record<string, FieldValue>)?, 1?];
/** A snapshot line: the cutoff first, then one line per customer (rows flat: kind, at, value, hash; profile values decoded). */
type SnapshotLine = { cutoff: number } | [customerId: string, imported: Record<string, FieldValue> | null, rows: (number | FieldValue | null)[]];

const SEGMENT = /^events-(\d{8})\.jsonl$/;
const SNAPSHOT = /^snapshot-(\d{8})$/;
const segmentName = (n: number) => `events-${String(n).padStart(8, "0")}.jsonl`;
const snapshotName = (n: number) => `snapshot-${String(n).padStart(8, "0")}`;
/** Customers compacted between yields to the event loop. */
const COMPACT_SLICE = 20_000;

export class EmbeddedCustomerData implements CustomerData {
  private readonly customers = new Map<string, number>();
  private readonly arena = new EventArena();
  private readonly imported: (Record<string, FieldValue> | undefined)[] = [];
  private readonly strings = new StringTable();
  private readonly scratch = new RowBuffer();
  private cutoff = -Infinity;
  /** Keys (customer, event id) of events written but not yet applied: a second copy is a duplicate. */
  private readonly pending = new Set<string>();
  /** Batches written to each writer and not yet applied. */
  private readonly unapplied = new Map<JsonlWriter, number>();
  private appliedWaiters: (() => void)[] = [];
  /** Rotation and compaction, one at a time. */
  private fileOps: Promise<void> = Promise.resolve();
  private rotating = false;
  private closed = false;

  private constructor(
    private readonly dir: string,
    private writer: JsonlWriter,
    private segment: number,
    private readonly o: Required<EmbeddedOptions>,
  ) {}

  static async open(dir: string, options: EmbeddedOptions = {}): Promise<EmbeddedCustomerData> {
    const o = { commitIntervalMs: 2, maxSegmentBytes: 64 * 1024 * 1024, ...options };
    let names: string[] = [];
    try {
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    // A snapshot is complete once it has its name; a .tmp one was cut short by a crash.
    for (const n of names.filter((n) => n.endsWith(".tmp"))) await rm(join(dir, n), { recursive: true, force: true });
    const snapshots = names.filter((n) => SNAPSHOT.test(n)).map((n) => Number(SNAPSHOT.exec(n)![1])).sort((a, b) => a - b);
    const covered = snapshots.length ? snapshots[snapshots.length - 1] : 0;
    const segments = names.filter((n) => SEGMENT.test(n)).map((n) => Number(SEGMENT.exec(n)![1])).sort((a, b) => a - b);
    const last = Math.max(covered + 1, ...segments);
    const store = new EmbeddedCustomerData(dir, await JsonlWriter.open(join(dir, segmentName(last)), o.commitIntervalMs), last, o);
    if (covered) await store.loadSnapshot(join(dir, snapshotName(covered)));
    for (const n of segments) {
      const path = join(dir, segmentName(n));
      if (n <= covered) {
        await rm(path, { force: true });
        continue;
      }
      const r = await readJsonl<Line>(path, (line) => ("e" in line ? store.applyEvents(line.e, true) : store.applyRows(line.r)));
      if (n === last) store.writer.bytes = r.bytes;
    }
    for (const n of snapshots.slice(0, -1)) await rm(join(dir, snapshotName(n)), { recursive: true, force: true });
    return store;
  }

  async ingest(events: CustomerEvent[]): Promise<IngestResult[]> {
    this.usable();
    const issues: CustomerDataRefusal["issues"] = [];
    const stored: StoredEvent[] = [];
    const results: IngestResult[] = events.map((e) => ({ event_id: e.event_id, status: "applied" }));
    const keys: string[] = [];
    let waitForOthers = false;
    for (const [i, e] of events.entries()) {
      const at = eventTime(e.at);
      if (Number.isNaN(at)) issues.push({ path: [i, "at"], message: `"${e.at}" is not a timestamp` });
      else if (at < this.cutoff) {
        issues.push({ path: [i, "at"], message: `${e.at} is before the compaction cutoff ${new Date(this.cutoff).toISOString()}: events that old are no longer applied` });
      }
      if (issues.length) continue;
      const key = `${e.customer_id}\n${e.event_id}`;
      const customer = this.customers.get(e.customer_id);
      if (this.pending.has(key)) {
        results[i].status = "duplicate";
        waitForOthers = true;
      } else if (customer !== undefined && this.arena.has(customer, idHash(e.event_id))) {
        results[i].status = "duplicate";
      } else {
        this.pending.add(key);
        keys.push(key);
        stored.push(toStored(e, at));
      }
    }
    if (issues.length) {
      for (const key of keys) this.pending.delete(key);
      throw new CustomerDataRefusal("events not applied", issues);
    }
    if (stored.length === 0) {
      // Duplicates of events still being written are acknowledged once those are durable.
      if (waitForOthers) await this.writer.flushed();
      return results;
    }
    await this.write({ e: stored }, () => this.applyEvents(stored, false), () => keys.forEach((k) => this.pending.delete(k)));
    return results;
  }

  async importRows(rows: CustomerRow[]): Promise<void> {
    this.usable();
    if (rows.length === 0) return;
    const line: [string, Record<string, FieldValue | null>][] = rows.map((r) => [r.customer_id, r.fields]);
    await this.write({ r: line }, () => this.applyRows(line), () => {});
  }

  async profile(customerId: string, at: number): Promise<Profile | undefined> {
    return oneProfile(this, customerId, at);
  }

  async profiles(queries: readonly ProfileQuery[]): Promise<(Profile | undefined)[]> {
    this.usable();
    refuseBeforeHorizon(queries, horizonOf(this.cutoff));
    return queries.map(({ customer_id, at }) => {
      const customer = this.customers.get(customer_id);
      if (customer === undefined) return undefined;
      this.arena.read(customer, this.scratch);
      return deriveProfile(this.scratch, at, this.strings.list, this.imported[customer]);
    });
  }

  async horizon(): Promise<number> {
    return horizonOf(this.cutoff);
  }

  /** Rows in memory, and the bytes their arena holds (for the benchmark). */
  stats(): { customers: number; rows: number; arenaBytes: number } {
    return { customers: this.customers.size, rows: this.arena.rows, arenaBytes: this.arena.bytes };
  }

  compact(before: number): Promise<void> {
    this.usable();
    const run = this.fileOps.then(() => this.compactNow(before));
    this.fileOps = run.catch(() => {});
    return run;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fileOps;
    await this.writer.close();
  }

  private usable(): void {
    if (this.closed) throw new Error(`customer data store ${this.dir} is closed`);
  }

  /** Appends a line, waits for its fsync, then applies it; `abandon` undoes the bookkeeping of a failed write. */
  private async write(line: Line, apply: () => void, abandon: () => void): Promise<void> {
    const writer = this.writer;
    writer.append(line);
    this.unapplied.set(writer, (this.unapplied.get(writer) ?? 0) + 1);
    if (writer.bytes >= this.o.maxSegmentBytes) this.rotate();
    try {
      await writer.flushed();
      apply();
    } finally {
      abandon();
      this.unapplied.set(writer, this.unapplied.get(writer)! - 1);
      for (const wake of this.appliedWaiters.splice(0)) wake();
    }
  }

  /** `replay`: events read back at open, some of which a snapshot already holds (a live batch was deduplicated before it was written). */
  private applyEvents(events: StoredEvent[], replay: boolean): void {
    for (const [customerId, eventId, at, type, extra, late] of events) {
      const hash = idHash(eventId);
      let customer = this.customers.get(customerId);
      if (customer === undefined) this.customers.set(customerId, (customer = this.customers.size));
      else if (replay && this.arena.has(customer, hash)) continue;
      const event = fromStored(type, extra, late);
      eventRows(event, at, this.strings, (kind, rowAt, value) => this.arena.insert(customer, kind, rowAt, value, hash));
    }
  }

  private applyRows(rows: [string, Record<string, FieldValue | null>][]): void {
    for (const [customerId, fields] of rows) {
      let customer = this.customers.get(customerId);
      if (customer === undefined) this.customers.set(customerId, (customer = this.customers.size));
      const kept: Record<string, FieldValue> = {};
      for (const k in fields) if (fields[k] !== null) kept[k] = fields[k];
      this.imported[customer] = kept;
    }
  }

  private rotate(): void {
    if (this.rotating) return;
    this.rotating = true;
    this.fileOps = this.fileOps
      .then(async () => {
        if (this.writer.bytes >= this.o.maxSegmentBytes) await this.nextSegment();
      })
      // The current segment goes on growing; the next append tries again.
      .catch((err: Error) => console.error(`${this.dir}: could not start a new segment: ${err.message}`))
      .finally(() => (this.rotating = false));
  }

  /** Starts the next segment; resolves with the previous writer once nothing written to it awaits applying. */
  private async nextSegment(): Promise<JsonlWriter> {
    const next = await JsonlWriter.open(join(this.dir, segmentName(this.segment + 1)), this.o.commitIntervalMs);
    const previous = this.writer;
    this.writer = next;
    this.segment++;
    await previous.close();
    while ((this.unapplied.get(previous) ?? 0) > 0) await new Promise<void>((r) => this.appliedWaiters.push(r));
    this.unapplied.delete(previous);
    return previous;
  }

  private async compactNow(before: number): Promise<void> {
    if (before <= this.cutoff) return;
    // From here on no event older than `before` is accepted; those accepted earlier were written to
    // the current segment, and are applied before any customer is compacted.
    this.cutoff = before;
    await this.nextSegment();
    const covered = this.segment - 1;
    let i = 0;
    for (const customer of this.customers.values()) {
      this.compactCustomer(customer, before);
      if (++i % COMPACT_SLICE === 0) await new Promise((r) => setTimeout(r, 0));
    }
    await writeSnapshot(this.dir, snapshotName(covered), this.snapshotLines());
    const names = await readdir(this.dir);
    for (const n of names) {
      const seg = SEGMENT.exec(n);
      const snap = SNAPSHOT.exec(n);
      if ((seg && Number(seg[1]) <= covered) || (snap && Number(snap[1]) < covered)) await rm(join(this.dir, n), { recursive: true, force: true });
    }
  }

  private compactCustomer(customer: number, before: number): void {
    const old = this.scratch;
    this.arena.takeBefore(customer, before, old);
    if (old.length === 0) return;
    const summary = summarize(old, old.length, this.strings.list);
    summaryRows(summary, this.strings, (kind, at, value) => this.arena.insert(customer, kind, at, value, NO_HASH));
  }

  private async *snapshotLines(): AsyncGenerator<SnapshotLine> {
    yield { cutoff: this.cutoff };
    let i = 0;
    for (const [customerId, customer] of this.customers) {
      const rows: (number | FieldValue | null)[] = [];
      this.arena.forEach(customer, (kind, at, value, hash) => {
        const v = kind >= Kind.PROFILE ? decodeValue(kind - Kind.PROFILE, value, this.strings.list) : Number.isNaN(value) ? null : value;
        rows.push(kind, at, v, hash);
      });
      yield [customerId, this.imported[customer] ?? null, rows];
      if (++i % COMPACT_SLICE === 0) await new Promise((r) => setTimeout(r, 0));
    }
  }

  private async loadSnapshot(path: string): Promise<void> {
    const parts = (await readdir(path)).filter((n) => n.startsWith("part-")).sort();
    for (let p = 1; p <= parts.length; p++) {
      await readJsonl<SnapshotLine>(join(path, partName(p)), (line) => {
        if (!Array.isArray(line)) {
          this.cutoff = line.cutoff ?? -Infinity;
          return;
        }
        const [customerId, imported, rows] = line;
        const customer = this.customers.size;
        this.customers.set(customerId, customer);
        if (imported) this.imported[customer] = imported;
        for (let r = 0; r < rows.length; r += 4) {
          const kind = rows[r] as number;
          const value = kind >= Kind.PROFILE ? encodeProfile(kind, rows[r + 2] as FieldValue, this.strings) : ((rows[r + 2] as number | null) ?? NaN);
          this.arena.insert(customer, kind, rows[r + 1] as number, value, rows[r + 3] as number);
        }
      });
    }
  }
}

function encodeProfile(kind: number, value: FieldValue, strings: StringTable): number {
  return typeof value === "string" ? strings.id(value) : typeof value === "boolean" ? (value ? 1 : 0) : value;
}

function toStored(e: CustomerEvent, at: number): StoredEvent {
  switch (e.type) {
    case "billing":
      return e.paid_late ? [e.customer_id, e.event_id, at, e.type, e.amount, 1] : [e.customer_id, e.event_id, at, e.type, e.amount];
    case "usage":
      return [e.customer_id, e.event_id, at, e.type, e.amount];
    case "profile": {
      const { event_id: _e, customer_id: _c, at: _a, type: _t, trigger: _g, ...fields } = e;
      return [e.customer_id, e.event_id, at, e.type, fields as Record<string, FieldValue>];
    }
    default:
      return [e.customer_id, e.event_id, at, e.type];
  }
}

/** What of a stored event its rows need (ids and `at` travel beside it). */
function fromStored(type: CustomerEvent["type"], extra: StoredEvent[4], late: StoredEvent[5]): EventFacts {
  if (type === "profile") return { type, ...(extra as Record<string, FieldValue>) };
  return { type, amount: extra as number | undefined, paid_late: late === 1 };
}
