// What an outcome needs to join its prediction, however late it comes: every retained
// prediction's churn probability by position (8 bytes each, in one typed array), whether an
// outcome has joined it yet (1 byte each: one outcome per prediction), and each customer's latest
// prediction with its time (customer-id joins hold only within a window). Positions come from the prediction ids (see contract/ids.ts), so
// no object is kept per prediction; a prediction whose id has another format is not joinable.
import { PredictionIds } from "../contract/ids.ts";
import type { ExperimentArm, JoinedPrediction } from "../contract/records.ts";
import { CustomerTable, growTo, type CustomerColumn } from "./customer-table.ts";
import { ExperimentColumns } from "./experiment-columns.ts";

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
  /** 1 where an outcome has joined the prediction at that position. */
  private labelled = new Uint8Array(1024);
  /** Position of probabilities[0]; positions below it were dropped with their log segments. */
  private first = 0;
  /** One past the newest position. */
  private end = 0;
  private readonly runs: Run[] = [];
  /** Treated or held out, with what (realized uplift joins outcomes to it). */
  private readonly experiments = new ExperimentColumns();
  /** Each customer's latest position. */
  private readonly latest: CustomerColumn;
  /** When each customer's latest prediction was made (ms since the epoch). */
  private readonly latestAt: CustomerColumn;

  /** `customers` may be shared with other per-customer state (the log's cooldowns share it). */
  constructor(private readonly customers = new CustomerTable()) {
    this.latest = customers.column();
    this.latestAt = customers.column();
  }

  /** The position the next new prediction takes. */
  get next(): number {
    return this.end;
  }

  /** Indexes a logged prediction; `experiment`: its part in the holdout experiment, if it has one. */
  add(predictionId: string, customerId: string, probability: number, madeAt = NaN, experiment?: ExperimentArm): void {
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
    if (this.labelled.length < this.probabilities.length) {
      const grown = new Uint8Array(this.probabilities.length);
      grown.set(this.labelled.subarray(0, this.end - this.first));
      this.labelled = grown;
    }
    this.labelled.fill(0, this.end - this.first, at + 1 - this.first);
    this.end = at + 1;
    const customer = this.customers.numberOf(customerId);
    this.latest.set(customer, at);
    this.latestAt.set(customer, madeAt);
    if (experiment) this.experiments.set(at - this.first, experiment);
  }

  /**
   * The prediction an outcome names: by id, else the customer's latest if it was made at or after
   * `since` (ms since the epoch; predictions with no known time are then never joined by customer).
   * `labelled` says an outcome has already joined it.
   */
  find(o: { prediction_id?: string; customer_id?: string }, since = -Infinity): (JoinedPrediction & { labelled: boolean }) | undefined {
    let at: number | undefined;
    if (o.prediction_id !== undefined) at = this.positionOf(o.prediction_id);
    else if (o.customer_id !== undefined) {
      const customer = this.customers.find(o.customer_id);
      const made = this.latestAt.get(customer);
      if (since === -Infinity || (made !== undefined && made >= since)) at = this.latest.get(customer);
    }
    if (at === undefined || at < this.first || at >= this.end) return undefined;
    const p = this.probabilities[at - this.first];
    if (Number.isNaN(p)) return undefined;
    return { prediction_id: o.prediction_id ?? this.idAt(at), churn_probability: p, ...this.experimentAt(at), labelled: this.labelled[at - this.first] === 1 };
  }

  /** Whether a prediction of the customer is retained. */
  holds(customer: number): boolean {
    return this.latest.get(customer) !== undefined;
  }

  /** Marks the prediction as joined by an outcome; false if it already was (or is not retained). */
  label(predictionId: string): boolean {
    const at = this.positionOf(predictionId);
    if (at === undefined || at < this.first || at >= this.end || this.labelled[at - this.first] === 1) return false;
    this.labelled[at - this.first] = 1;
    return true;
  }

  private experimentAt(at: number): { experiment?: ExperimentArm } {
    const experiment = this.experiments.get(at - this.first);
    return experiment ? { experiment } : {};
  }

  /** Forgets every position below `position` (their log segment was deleted). */
  dropBefore(position: number): void {
    const cut = Math.min(position, this.end) - this.first;
    if (cut <= 0) return;
    this.probabilities.copyWithin(0, cut, this.end - this.first);
    this.experiments.shift(cut, this.end - this.first);
    this.labelled.copyWithin(0, cut, this.end - this.first);
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
