// Each retained prediction's part in the holdout experiment (DESIGN section 10), by index position
// beside the probabilities of prediction-index.ts, so that an outcome however late can say whether
// its customer was treated or held out, with what, and what the forest predicted: a group byte,
// an arm code (intervention and cost) and the predicted reduction and customer value as float32,
// 11 bytes a prediction and no object.
import type { ExperimentArm, PredictionRecord } from "../contract/records.ts";

const NONE = 0;
const TREATED = 1;
const HOLDOUT = 2;

/** A logged prediction's part in the experiment; none for one with no recommendation, or logged before holdout existed. */
export function experimentOf(r: PredictionRecord): ExperimentArm | undefined {
  if (r.holdout === undefined || r.customer_value === undefined || r.recommended_intervention === null) return undefined;
  if (r.predicted_churn_reduction === null || r.cost === null || (!r.holdout && !r.should_intervene)) return undefined;
  return { group: r.holdout ? "holdout" : "treated", intervention: r.recommended_intervention, predicted_reduction: r.predicted_churn_reduction, customer_value: r.customer_value, cost: r.cost };
}

export class ExperimentColumns {
  private group = new Uint8Array(0);
  private arm = new Uint16Array(0);
  private reduction = new Float32Array(0);
  private value = new Float32Array(0);
  /** Arm codes: each intervention with its cost at the time. */
  private readonly arms: { intervention: string; cost: number }[] = [];

  /** Records the part of the prediction at `offset` (positions never set read as none). */
  set(offset: number, e: ExperimentArm): void {
    if (offset >= this.group.length) this.grow(Math.max(1024, offset + 1, 2 * this.group.length));
    let code = this.arms.findIndex((a) => a.intervention === e.intervention && a.cost === e.cost);
    if (code < 0) code = this.arms.push({ intervention: e.intervention, cost: e.cost }) - 1;
    this.group[offset] = e.group === "treated" ? TREATED : HOLDOUT;
    this.arm[offset] = code;
    this.reduction[offset] = e.predicted_reduction;
    this.value[offset] = e.customer_value;
  }

  get(offset: number): ExperimentArm | undefined {
    const g = offset < this.group.length ? this.group[offset] : NONE;
    if (g === NONE) return undefined;
    const { intervention, cost } = this.arms[this.arm[offset]];
    return { group: g === TREATED ? "treated" : "holdout", intervention, predicted_reduction: this.reduction[offset], customer_value: this.value[offset], cost };
  }

  /** Drops the first `cut` offsets of `length` in use, as the index does when segments expire. */
  shift(cut: number, length: number): void {
    const end = Math.min(length, this.group.length);
    for (const column of [this.group, this.arm, this.reduction, this.value]) column.copyWithin(0, cut, end);
    this.group.fill(NONE, Math.max(0, end - cut), end);
  }

  private grow(size: number): void {
    const grown = <T extends Uint8Array | Uint16Array | Float32Array>(old: T, make: (n: number) => T): T => {
      const a = make(size);
      a.set(old);
      return a;
    };
    this.group = grown(this.group, (n) => new Uint8Array(n));
    this.arm = grown(this.arm, (n) => new Uint16Array(n));
    this.reduction = grown(this.reduction, (n) => new Float32Array(n));
    this.value = grown(this.value, (n) => new Float32Array(n));
  }
}
