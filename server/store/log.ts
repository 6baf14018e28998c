// The durable prediction log: every answered prediction and every observed outcome, as JSON lines
// in numbered segment files (group commit, see jsonl.ts). A record counts as logged once its
// commit is fsynced — at most `commitIntervalMs` after the response; `durableSeq` tells how far
// that is. Retention keeps the newest `maxSegments` segments, and an outcome can join any
// prediction they hold (prediction-index.ts). It implements the contract's `PredictionLog`, which
// a server database could implement too; this file store needs nothing but node:fs, so it runs
// on Node and Deno.
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { JoinedPrediction, LabelledOutcome, PredictionRecord } from "../contract/records.ts";
import type { PredictionLog } from "../contract/storage.ts";
import { CustomerTable } from "./customer-table.ts";
import { MemoryInterventionHistory } from "./history.ts";
import { JsonlWriter, readJsonl } from "./jsonl.ts";
import { PredictionIndex } from "./prediction-index.ts";

export interface LogOptions {
  commitIntervalMs?: number;
  maxSegmentBytes?: number;
  maxSegments?: number;
  /** Predictions and outcomes found at open that `recent()` returns (the newest; 10,000 each). */
  recentSize?: number;
}

/** Outcome lines of earlier versions carried no probability: it is joined again at open. */
type OutcomeLine = { t: "o" } & Omit<LabelledOutcome, "churn_probability"> & { churn_probability?: number };
type Line = ({ t: "p" } & PredictionRecord) | OutcomeLine;

const SEGMENT = /^segment-(\d{8})\.jsonl$/;
const segmentName = (n: number) => `segment-${String(n).padStart(8, "0")}.jsonl`;

export class FileLog implements PredictionLog {
  /** Customers numbered once for both per-customer tables: latest prediction and cooldowns. */
  private readonly customers = new CustomerTable();
  private readonly index = new PredictionIndex(this.customers);
  /** The index position of each segment's first prediction, to forget them with the segment. */
  private readonly segmentStarts = new Map<number, number>();
  private readonly recentPredictions: PredictionRecord[] = [];
  private readonly recentOutcomes: LabelledOutcome[] = [];
  private readonly triggers = new MemoryInterventionHistory(this.customers);
  /** Lines before the current writer's first append: read at open, and in segments closed since. */
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
    const o = { commitIntervalMs: 10, maxSegmentBytes: 64 * 1024 * 1024, maxSegments: 16, recentSize: 10_000, ...options };
    let names: string[] = [];
    try {
      names = (await readdir(dir)).filter((n) => SEGMENT.test(n)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    const numbers = names.map((n) => Number(SEGMENT.exec(n)![1]));
    const last = numbers.length ? numbers[numbers.length - 1] : 1;
    const log = new FileLog(dir, await JsonlWriter.open(join(dir, segmentName(last)), o.commitIntervalMs), last, o);
    // Segment by segment, line by line: only the index, the cooldowns and the newest records stay.
    const keep = <T>(list: T[], item: T) => {
      list.push(item);
      if (list.length >= 2 * o.recentSize) list.splice(0, list.length - o.recentSize);
    };
    for (const [i, name] of names.entries()) {
      log.segmentStarts.set(numbers[i], log.index.next);
      const r = await readJsonl<Line>(join(dir, name), (line) => {
        if (line.t === "o") {
          const p = line.churn_probability ?? log.index.find(line)?.churn_probability;
          // An outcome whose prediction fell out of retention has nothing to count against.
          if (p !== undefined) keep(log.recentOutcomes, { prediction_id: line.prediction_id, churned: line.churned, at: line.at, churn_probability: p });
        } else {
          const { t: _, ...record } = line;
          log.index.add(record.prediction_id, record.customer_id, record.churn_probability);
          // Cooldowns are rebuilt from the logged recommendations; while serving, record() keeps them.
          if (record.should_intervene && record.recommended_intervention) log.record(record.customer_id, record.recommended_intervention, record.at);
          keep(log.recentPredictions, record);
        }
      });
      if (r.tornBytes) console.warn(`${join(dir, name)}: dropped a torn last line (${r.tornBytes} bytes) left by a crash`);
      if (r.skipped) console.warn(`${join(dir, name)}: skipped ${r.skipped} unreadable line(s)`);
      log.offset += r.count;
      // The writer appends to the last segment: its size counts towards rotation.
      if (numbers[i] === last) log.writer.bytes = r.bytes;
    }
    if (!log.segmentStarts.has(last)) log.segmentStarts.set(last, log.index.next);
    for (const list of [log.recentPredictions, log.recentOutcomes]) list.splice(0, Math.max(0, list.length - o.recentSize));
    return log;
  }

  get durableSeq(): number {
    return this.retiring ? this.offset + this.retiring.durableSeq : this.offset + this.writer.durableSeq;
  }

  get appendedSeq(): number {
    return this.offset + (this.retiring?.appendedSeq ?? 0) + this.writer.appendedSeq;
  }

  private write(line: Line): void {
    if (line.t === "p") this.index.add(line.prediction_id, line.customer_id, line.churn_probability);
    this.writer.append(line);
    if (this.writer.bytes >= this.o.maxSegmentBytes && !this.rotating) void this.rotate();
  }

  onPredictions(records: PredictionRecord[]): void {
    for (const r of records) this.write({ t: "p", ...r });
  }

  onOutcomes(outcomes: LabelledOutcome[]): void {
    for (const o of outcomes) this.write({ t: "o", ...o });
  }

  flushed(): Promise<void> {
    return this.writer.flushed();
  }

  find(outcome: { prediction_id?: string; customer_id?: string }): JoinedPrediction | undefined {
    return this.index.find(outcome);
  }

  lastTriggered(customerId: string, intervention: string): number | undefined {
    return this.triggers.lastTriggered(customerId, intervention);
  }

  /** The service records each trigger as it answers (so cooldowns hold even with no observers). */
  record(customerId: string, intervention: string, at: number): void {
    this.triggers.record(customerId, intervention, at);
  }

  recent(): { predictions: PredictionRecord[]; outcomes: LabelledOutcome[] } {
    return { predictions: this.recentPredictions, outcomes: this.recentOutcomes };
  }

  /** Starts a new segment and deletes the oldest beyond retention. */
  private async rotate(): Promise<void> {
    this.rotating = true;
    const next = await JsonlWriter.open(join(this.dir, segmentName(this.segment + 1)), this.o.commitIntervalMs);
    this.segment++;
    this.segmentStarts.set(this.segment, this.index.next);
    this.retiring = this.writer;
    this.writer = next;
    await this.retiring.close();
    this.offset += this.retiring.appendedSeq;
    this.retiring = null;
    this.rotating = false;
    const names = (await readdir(this.dir)).filter((x) => SEGMENT.test(x)).sort();
    const expired = names.slice(0, Math.max(0, names.length - this.o.maxSegments));
    for (const name of expired) {
      await rm(join(this.dir, name));
      this.segmentStarts.delete(Number(SEGMENT.exec(name)![1]));
    }
    // Outcomes can no longer join what the deleted segments held.
    if (expired.length > 0 && names.length > expired.length) {
      this.index.dropBefore(this.segmentStarts.get(Number(SEGMENT.exec(names[expired.length])![1])) ?? 0);
    }
  }

  async close(): Promise<void> {
    await this.writer.close();
  }
}
