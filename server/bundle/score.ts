// The scoring kernel, one for every caller (the service, the reference builder): resolved
// customers -> model rows -> churn probabilities (one WASM call) -> each intervention's effect
// with its interval where asked (one WASM call per confidence level).
import type { Effects } from "../contract/records.ts";
import type { Resolved } from "../features/pipeline.ts";
import { traced } from "../observability/trace-context.ts";
import type { Bundle } from "./load.ts";

export interface Scores {
  probabilities: Float64Array;
  /** Per customer; null where effects were not asked for, or the forest's solve was singular. */
  effects: (Effects | null)[];
}

/**
 * Scores `customers`; `confidenceFor(i, probability)` says at which confidence level customer i's
 * effects are wanted, or null for none (e.g. below the churn gate).
 */
export function scoreCustomers(bundle: Bundle, customers: Resolved[], confidenceFor: (i: number, probability: number) => number | null): Scores {
  const { pipeline } = bundle;
  const width = pipeline.width;
  const rows = new Float64Array(customers.length * width);
  customers.forEach((c, i) => pipeline.encode(c, rows, i * width));
  // A churn model trained on raw columns scores raw rows; the forest always takes scaled ones.
  let churnRows = rows;
  if (bundle.manifest.churn_input === "raw") {
    churnRows = new Float64Array(rows.length);
    customers.forEach((c, i) => pipeline.encodeRaw(c, churnRows, i * width));
  }
  const probabilities = traced("churn_model", () => bundle.churn.predict(churnRows, customers.length));
  const effects: (Effects | null)[] = customers.map(() => null);
  const byConfidence = new Map<number, number[]>();
  for (let i = 0; i < customers.length; i++) {
    const confidence = confidenceFor(i, probabilities[i]);
    if (confidence === null) continue;
    const list = byConfidence.get(confidence);
    if (list) list.push(i);
    else byConfidence.set(confidence, [i]);
  }
  if (byConfidence.size) traced("forest", () => forestEffects(bundle, rows, byConfidence, effects));
  return { probabilities, effects };
}

/** Each intervention's effect for the customers of each confidence level (one WASM call per level). */
function forestEffects(bundle: Bundle, rows: Float64Array, byConfidence: Map<number, number[]>, effects: (Effects | null)[]): void {
  const width = bundle.pipeline.width;
  for (const [confidence, which] of byConfidence) {
    const sub = new Float64Array(which.length * width);
    which.forEach((i, k) => sub.set(rows.subarray(i * width, (i + 1) * width), k * width));
    const result = bundle.forest.effects(sub, which.length, 1 - confidence);
    const arms = result.contrasts.map((c) => c.t1);
    which.forEach((i, k) => {
      const byArm: Effects = {};
      let finite = true;
      for (let a = 0; a < arms.length; a++) {
        const at = k * arms.length + a;
        byArm[arms[a]] = { effect: result.effect[at], lower: result.lower[at], upper: result.upper[at] };
        finite &&= Number.isFinite(result.effect[at]) && Number.isFinite(result.lower[at]) && Number.isFinite(result.upper[at]);
      }
      // A singular forest solve gives NaN: no effects rather than NaN in a response.
      effects[i] = finite ? byArm : null;
    });
  }
}
