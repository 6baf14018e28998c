// The durable prediction log: every answered prediction and every observed outcome, as JSON lines
// in numbered segment files (group commit, see jsonl.ts). A record counts as logged once its
// commit is fsynced — at most `commitIntervalMs` after the response; `durableSeq` tells how far
// that is. Retention keeps the newest `maxSegments` segments. The same interface could be backed
// by a server database; this file store needs nothing but node:fs, so it runs on Node and Deno.
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Outcome } from "../monitor/monitor.ts";
import type { InterventionHistory } from "../service/customers.ts";
import type { PredictionObserver, PredictionRecord } from "../service/observer.ts";
import { JsonlWriter, readJsonl } from "./jsonl.ts";

export interface PredictionLog extends PredictionObserver, InterventionHistory {
  readonly durableSeq: number;
  readonly appendedSeq: number;
  appendOutcome(outcome: Outcome & { prediction_id: string; at: number }): void;
  flushed(): Promise<void>;
  /** A prediction logged before this process opened the log. */
  get(predictionId: string): PredictionRecord | undefined;
  /** The newest `n` predictions and outcomes found at open, oldest first (to rebuild monitoring windows). */
  recent(n: number): { predictions: PredictionRecord[]; outcomes: Outcome[] };
  close(): Promise<void>;
}

export interface LogOptions {
  commitIntervalMs?: number;
  maxSegmentBytes?: number;
  maxSegments?: number;
  /** Predictions kept in memory for lookups by id (the newest). */
  indexSize?: number;
}

type Line = ({ t: "p" } & PredictionRecord) | ({ t: "o"; at: number } & Outcome & { prediction_id: string });

const SEGMENT = /^segment-(\d{8})\.jsonl$/;
const segmentName = (n: number) => `segment-${String(n).padStart(8, "0")}.jsonl`;

export class FileLog implements PredictionLog {
  private readonly byId = new Map<string, PredictionRecord>();
  private readonly outcomes: Outcome[] = [];
  private readonly triggered = new Map<string, number>();
  /** Lines in segments closed before the current writer's. */
  private offset = 0;
  /** The previous writer while a rotation closes it. */
  private retiring: JsonlWriter | null = null;
  private rotating = false;

  private constructor(
    private readonly dir: string,
    private writer: JsonlWriter,
    private segment: number,
    private readonly o: Required<LogOptions>,
  ) {}

  static async open(dir: string, options: LogOptions = {}): Promise<FileLog> {
    const o = { commitIntervalMs: 10, maxSegmentBytes: 64 * 1024 * 1024, maxSegments: 16, indexSize: 200_000, ...options };
    let names: string[] = [];
    try {
      names = (await readdir(dir)).filter((n) => SEGMENT.test(n)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    const numbers = names.map((n) => Number(SEGMENT.exec(n)![1]));
    const last = numbers.length ? numbers[numbers.length - 1] : 1;
    const lines: Line[] = [];
    let lastBytes = 0;
    for (const [i, name] of names.entries()) {
      const r = await readJsonl<Line>(join(dir, name));
      if (r.tornBytes) console.warn(`${join(dir, name)}: dropped a torn last line (${r.tornBytes} bytes) left by a crash`);
      if (r.skipped) console.warn(`${join(dir, name)}: skipped ${r.skipped} unreadable line(s)`);
      lines.push(...r.entries);
      if (i === names.length - 1) lastBytes = r.bytes;
    }
    const log = new FileLog(dir, await JsonlWriter.open(join(dir, segmentName(last)), o.commitIntervalMs, lastBytes), last, o);
    for (const line of lines) log.index(line);
    log.offset = lines.length;
    return log;
  }

  get durableSeq(): number {
    return this.retiring ? this.offset + this.retiring.durableSeq : this.offset + this.writer.durableSeq;
  }

  get appendedSeq(): number {
    return this.offset + (this.retiring?.appendedSeq ?? 0) + this.writer.appendedSeq;
  }

  private index(line: Line): void {
    if (line.t === "o") {
      this.outcomes.push({ prediction_id: line.prediction_id, customer_id: line.customer_id, churned: line.churned });
      if (this.outcomes.length > this.o.indexSize) this.outcomes.shift();
      return;
    }
    const { t: _, ...record } = line;
    this.byId.set(record.prediction_id, record);
    if (this.byId.size > this.o.indexSize) this.byId.delete(this.byId.keys().next().value!);
    this.noteTrigger(record);
  }

  private noteTrigger(record: PredictionRecord): void {
    if (record.should_intervene && record.recommended_intervention) {
      this.triggered.set(`${record.customer_id}\u0000${record.recommended_intervention}`, record.at);
    }
  }

  private write(line: Line): void {
    // While serving, only cooldown triggers are indexed: keeping every record in memory made
    // garbage collection the largest part of /predict's p99. Recent predictions are joinable
    // through the monitor; `get` and `recent` cover what was logged before this process opened it.
    if (line.t === "p") this.noteTrigger(line);
    this.writer.append(line);
    if (this.writer.bytes >= this.o.maxSegmentBytes && !this.rotating) void this.rotate();
  }

  onPredictions(records: PredictionRecord[]): void {
    for (const r of records) this.write({ t: "p", ...r });
  }

  appendOutcome(outcome: Outcome & { prediction_id: string; at: number }): void {
    this.write({ t: "o", ...outcome });
  }

  flushed(): Promise<void> {
    return this.writer.flushed();
  }

  get(id: string): PredictionRecord | undefined {
    return this.byId.get(id);
  }

  lastTriggered(customerId: string, intervention: string): number | undefined {
    return this.triggered.get(`${customerId}\u0000${intervention}`);
  }

  /** Cooldowns are read from the logged predictions themselves; nothing else to record. */
  record(): void {}

  recent(n: number): { predictions: PredictionRecord[]; outcomes: Outcome[] } {
    const all = [...this.byId.values()];
    return { predictions: all.slice(-n), outcomes: this.outcomes.slice(-n) };
  }

  /** Starts a new segment and deletes the oldest beyond retention. */
  private async rotate(): Promise<void> {
    this.rotating = true;
    const next = await JsonlWriter.open(join(this.dir, segmentName(this.segment + 1)), this.o.commitIntervalMs);
    this.segment++;
    this.retiring = this.writer;
    this.writer = next;
    await this.retiring.close();
    this.offset += this.retiring.appendedSeq;
    this.retiring = null;
    this.rotating = false;
    const names = (await readdir(this.dir)).filter((x) => SEGMENT.test(x)).sort();
    for (const name of names.slice(0, Math.max(0, names.length - this.o.maxSegments))) await rm(join(this.dir, name));
  }

  async close(): Promise<void> {
    await this.writer.close();
  }
}
