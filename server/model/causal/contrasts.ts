// Contrasts as EconML forms them: dT = onehot(t1) - onehot(t0) with the control's code all zero,
// padded with 0 in the intercept slot. Shared by both evaluators.
import type { Contrast } from "../evaluator.ts";
import type { CausalForest } from "./model.ts";

export function defaultContrasts(forest: CausalForest): Contrast[] {
  return forest.treatmentColumns.map((arm) => ({ t0: forest.control, t1: arm }));
}

export function contrastVectors(forest: CausalForest, contrasts: Contrast[]): Float64Array {
  const p = forest.nOutputs;
  const q = new Float64Array(contrasts.length * p);
  contrasts.forEach(({ t0, t1 }, c) => {
    for (const [arm, sign] of [[t1, 1], [t0, -1]] as const) {
      if (arm === forest.control) continue;
      const k = forest.treatmentColumns.indexOf(arm);
      if (k < 0) throw new RangeError(`unknown treatment ${JSON.stringify(arm)}; the forest has ${forest.treatments.join(", ")}`);
      q[c * p + k] += sign;
    }
  });
  return q;
}
