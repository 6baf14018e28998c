// What an outcome needs to join its prediction, however late it comes: every retained
// prediction's churn probability by position (8 bytes each, in one typed array) and each
// customer's latest prediction. Positions come from the prediction ids (see contract/ids.ts), so
// no object is kept per prediction; a prediction whose id has another format is not joinable.
import { PredictionIds } from "../contract/ids.ts";
import type { JoinedPrediction } from "../contract/records.ts";
import { CustomerColumn, CustomerTable, growTo } from "./customer-table.ts";

/** A run of one process's predictions: sequence number s sits at position base + s, from `from` on. */
interface Run {
  instance: string;
  base: number;
  from: number;
}

/** Sequence numbers further ahead than this start a new run instead of a gap. */
const MAX_GAP = 1 << 20;

export class PredictionIndex {
  private probabilities = new Float64Array(1024);
  /** Position of probabilities[0]; positions below it were dropped with their log segments. */
  private first = 0;
  /** One past the newest position. */
  private end = 0;
  private readonly runs: Run[] = [];
  /** Each customer's latest position. */
  private readonly latest = new CustomerColumn();

  /** `customers` may be shared with other per-customer state (the log's cooldowns share it). */
  constructor(private readonly customers = new CustomerTable()) {}

  /** The position the next new prediction takes. */
  get next(): number {
    return this.end;
  }

  add(predictionId: string, customerId: string, probability: number): void {
    const id = PredictionIds.parse(predictionId);
    if (!id) return;
    let run = this.runs[this.runs.length - 1];
    if (run?.instance === id.instance && run.base + id.seq < this.end) return; // already indexed
    if (run?.instance !== id.instance || run.base + id.seq > this.end + MAX_GAP) {
      this.runs.push((run = { instance: id.instance, base: this.end - id.seq, from: this.end }));
    }
    const at = run.base + id.seq;
    this.probabilities = growTo(this.probabilities, at + 1 - this.first, this.end - this.first);
    // Sequence numbers skipped (predictions never logged) stay unjoinable.
    this.probabilities.fill(NaN, this.end - this.first, at - this.first);
    this.probabilities[at - this.first] = probability;
    this.end = at + 1;
    this.latest.set(this.customers.numberOf(customerId), at);
  }

  find(o: { prediction_id?: string; customer_id?: string }): JoinedPrediction | undefined {
    const at = o.prediction_id !== undefined
      ? this.positionOf(o.prediction_id)
      : o.customer_id !== undefined ? this.latest.get(this.customers.find(o.customer_id)) : undefined;
    if (at === undefined || at < this.first || at >= this.end) return undefined;
    const p = this.probabilities[at - this.first];
    if (Number.isNaN(p)) return undefined;
    return { prediction_id: o.prediction_id ?? this.idAt(at), churn_probability: p };
  }

  /** Forgets every position below `position` (their log segment was deleted). */
  dropBefore(position: number): void {
    const cut = Math.min(position, this.end) - this.first;
    if (cut <= 0) return;
    this.probabilities.copyWithin(0, cut, this.end - this.first);
    this.first += cut;
    this.latest.clearBelow(this.first);
  }

  private positionOf(predictionId: string): number | undefined {
    const id = PredictionIds.parse(predictionId);
    if (!id) return undefined;
    for (let k = this.runs.length - 1; k >= 0; k--) {
      const run = this.runs[k];
      const at = run.base + id.seq;
      if (run.instance === id.instance && at >= run.from && at < (this.runs[k + 1]?.from ?? this.end)) return at;
    }
    return undefined;
  }

  private idAt(position: number): string {
    let k = this.runs.length - 1;
    while (this.runs[k].from > position) k--;
    return PredictionIds.format(this.runs[k].instance, position - this.runs[k].base);
  }
}
