// Realized uplift (DESIGN section 10): the labelled predictions of the holdout experiment, treated
// or held out of the intervention they would have had, column by column in typed arrays, and
// what they measure — churn of treated vs holdout, the uplift with Newcombe's interval next to the
// forest's mean predicted reduction for the same customers (overall and per intervention), the
// realized policy value per customer, and the uplift (Qini) curve of the forest's ranking.
import type { UpliftEstimate, UpliftSummary } from "../contract/monitoring.ts";
import type { LabelledOutcome } from "../contract/records.ts";
import { meanDifference, newcombe } from "./uplift-stats.ts";

const TREATED = 1;
const HOLDOUT = 2;
const QINI_POINTS = 20;

/** The positions of a window's entries that belong to one comparison. */
type Subset = (i: number) => boolean;

export class UpliftWindow {
  private readonly group: Uint8Array;
  private readonly arm: Uint8Array;
  private readonly churned: Uint8Array;
  private readonly reduction: Float64Array;
  private readonly value: Float64Array;
  private readonly cost: Float64Array;
  /** Intervention names by code (arm[i]); a bundle has a handful. */
  private readonly names: string[] = [];
  private next = 0;
  private count = 0;
  /** The last summary, until a label changes the window: the monitor asks every second. */
  private cached: { holdoutFraction: number | null; minimum: number; summary: UpliftSummary } | null = null;

  constructor(private readonly size: number) {
    this.group = new Uint8Array(size);
    this.arm = new Uint8Array(size);
    this.churned = new Uint8Array(size);
    this.reduction = new Float64Array(size);
    this.value = new Float64Array(size);
    this.cost = new Float64Array(size);
  }

  /** Keeps the outcome if its prediction was treated or held out; others are not part of the experiment. */
  push(o: LabelledOutcome): void {
    const e = o.experiment;
    if (!e) return;
    let code = this.names.indexOf(e.intervention);
    if (code < 0) code = this.names.push(e.intervention) - 1;
    this.cached = null;
    const s = this.next;
    this.next = s + 1 === this.size ? 0 : s + 1;
    if (this.count < this.size) this.count++;
    this.group[s] = e.group === "treated" ? TREATED : HOLDOUT;
    this.arm[s] = code;
    this.churned[s] = o.churned ? 1 : 0;
    this.reduction[s] = e.predicted_reduction;
    this.value[s] = e.customer_value;
    this.cost[s] = e.cost;
  }

  /**
   * The snapshot's uplift block. Figures need `minimum` labels in each group of their comparison
   * (null below); the curve and the policy value, `minimum` in each group overall.
   */
  summary(holdoutFraction: number | null, minimum: number): UpliftSummary {
    const c = this.cached;
    if (c && c.holdoutFraction === holdoutFraction && c.minimum === minimum) return c.summary;
    const summary = this.compute(holdoutFraction, minimum);
    this.cached = { holdoutFraction, minimum, summary };
    return summary;
  }

  private compute(holdoutFraction: number | null, minimum: number): UpliftSummary {
    const all: Subset = () => true;
    const overall = this.estimate(all, minimum);
    const by_intervention = this.names
      .map((intervention, code) => {
        const e = this.estimate((i) => this.arm[i] === code, minimum);
        return { intervention, labelled: e.labelled_treated + e.labelled_holdout, ...e };
      })
      .filter((e) => e.labelled > 0)
      .sort((a, b) => a.intervention.localeCompare(b.intervention));
    const enough = overall.labelled_treated >= minimum && overall.labelled_holdout >= minimum;
    return {
      holdout_fraction: holdoutFraction,
      labelled_treated: overall.labelled_treated,
      labelled_holdout: overall.labelled_holdout,
      overall,
      by_intervention,
      policy_value: enough ? this.policyValue() : { per_customer: null, ci_lower: null, ci_upper: null },
      qini: enough ? this.qini() : [],
    };
  }

  /** Churn of each group, and the uplift (holdout rate - treated rate) with Newcombe's 95% interval. */
  private estimate(within: Subset, minimum: number): UpliftEstimate {
    const t = new Tally();
    let predicted = 0;
    for (let i = 0; i < this.count; i++) {
      if (!within(i)) continue;
      predicted += this.reduction[i];
      t.add(this.group[i] === TREATED, this.churned[i]);
    }
    const { nT, nH, yT, yH } = t;
    const enough = nT >= minimum && nH >= minimum;
    const d = enough ? newcombe(yH, nH, yT, nT) : null;
    return {
      labelled_treated: nT,
      labelled_holdout: nH,
      churn_treated: nT ? yT / nT : null,
      churn_holdout: nH ? yH / nH : null,
      uplift: d?.difference ?? null,
      ci_lower: d?.lower ?? null,
      ci_upper: d?.upper ?? null,
      predicted_reduction: enough ? predicted / (nT + nH) : null,
    };
  }

  /**
   * Per customer the policy acts on: value lost to churn without it (holdout) minus value lost
   * with it and its cost (treated), each customer's churn weighted by its value; normal interval.
   */
  private policyValue(): UpliftSummary["policy_value"] {
    const held: number[] = [];
    const treated: number[] = [];
    for (let i = 0; i < this.count; i++) {
      const lost = this.churned[i] * this.value[i];
      if (this.group[i] === TREATED) treated.push(lost + this.cost[i]);
      else held.push(lost);
    }
    const d = meanDifference(held, treated);
    return { per_customer: d.difference, ci_lower: d.lower, ci_upper: d.upper };
  }

  /** Churns prevented among the treated of the top share by predicted reduction, per labelled customer. */
  private qini(): UpliftSummary["qini"] {
    const order = Array.from({ length: this.count }, (_, i) => i).sort((a, b) => this.reduction[b] - this.reduction[a]);
    const points: UpliftSummary["qini"] = [{ fraction: 0, prevented: 0 }];
    const t = new Tally();
    let mark = 1;
    order.forEach((i, k) => {
      t.add(this.group[i] === TREATED, this.churned[i]);
      const { nT, nH, yT, yH } = t;
      // Cut only where the ranking changes: tied predictions are one step.
      const last = k + 1 === order.length || this.reduction[order[k + 1]] !== this.reduction[i];
      if (last && (k + 1) / order.length >= mark / QINI_POINTS) {
        points.push({ fraction: (k + 1) / order.length, prevented: ((nH ? (yH * nT) / nH : 0) - yT) / order.length });
        while (mark / QINI_POINTS <= (k + 1) / order.length) mark++;
      }
    });
    return points;
  }
}

/** Labelled customers and churns of each group. */
class Tally {
  nT = 0;
  nH = 0;
  yT = 0;
  yH = 0;

  add(treated: boolean, churned: number): void {
    if (treated) {
      this.nT++;
      this.yT += churned;
    } else {
      this.nH++;
      this.yH += churned;
    }
  }
}
