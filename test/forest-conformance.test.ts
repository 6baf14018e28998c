// The causal forest fixture: every row, every column of EconML's reference_effects.csv, for both
// evaluators, within |got - want| <= 1e-12 + 1e-9 |want|.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { readMatrix } from "./helpers/fixtures.ts";
import { fixtureForest, forestEvaluators } from "./helpers/evaluators.ts";
import type { Contrast, EffectResult } from "../server/model/evaluator.ts";

const forest = fixtureForest();
const X = readMatrix("causal_forest", "test_X_scaled.csv");
const ref = readMatrix("causal_forest", "reference_effects.csv");

function column(name: string): Float64Array {
  const c = ref.header.indexOf(name);
  if (c < 0) throw new Error(`reference_effects.csv has no column ${name}`);
  return Float64Array.from({ length: ref.nRows }, (_, r) => ref.data[r * ref.nCols + c]);
}

/** Worst |got - want| / (1e-12 + 1e-9 |want|): at most 1 passes. */
function worstRatio(result: EffectResult, field: "effect" | "lower" | "upper" | "stderr", c: number, want: Float64Array): number {
  const n = result.contrasts.length;
  let worst = 0;
  for (let r = 0; r < want.length; r++) {
    const ratio = Math.abs(result[field][r * n + c] - want[r]) / (1e-12 + 1e-9 * Math.abs(want[r]));
    worst = ratio <= worst ? worst : Number.isNaN(ratio) ? Infinity : ratio;
  }
  return worst;
}

for (const [name, make] of Object.entries(forestEvaluators)) {
  describe(`EconML parity: ${name}`, () => {
    it("checks the test matrix matches the forest", () => {
      expect(X.header).toEqual(forest.featureColumns);
      expect(X.nRows).toBe(ref.nRows);
    });

    it("each arm vs control: effect, interval and stderr at alpha 0.05", async () => {
      const ev = await make(forest);
      const result = ev.effects(X.data, X.nRows, 0.05);
      expect(result.contrasts.map((c) => c.t1)).toEqual(forest.treatmentColumns);
      forest.treatmentColumns.forEach((arm, c) => {
        for (const field of ["effect", "lower", "upper", "stderr"] as const) {
          expect(worstRatio(result, field, c, column(`${field}_${arm}`)), `${field}_${arm}`).toBeLessThanOrEqual(1);
        }
      });
    });

    it("an arm-vs-arm contrast and alpha 0.10", async () => {
      const ev = await make(forest);
      const contrasts: Contrast[] = [
        { t0: "email_nudge", t1: "discount_199" },
        { t0: "none", t1: "retention_call" },
      ];
      const at05 = ev.effects(X.data, X.nRows, 0.05, contrasts);
      for (const field of ["effect", "lower", "upper"] as const) {
        expect(worstRatio(at05, field, 0, column(`${field}_discount_199_vs_email_nudge`))).toBeLessThanOrEqual(1);
      }
      const at10 = ev.effects(X.data, X.nRows, 0.1, contrasts);
      expect(worstRatio(at10, "lower", 1, column("lower90_retention_call"))).toBeLessThanOrEqual(1);
      expect(worstRatio(at10, "upper", 1, column("upper90_retention_call"))).toBeLessThanOrEqual(1);
    });

    it("single rows equal the batch", async () => {
      const ev = await make(forest);
      const batch = ev.effects(X.data, 50, 0.05);
      for (let r = 0; r < 50; r++) {
        const one = ev.effects(X.data.subarray(r * X.nCols, (r + 1) * X.nCols), 1, 0.05);
        for (let c = 0; c < 4; c++) expect(one.upper[c]).toBe(batch.upper[r * 4 + c]);
      }
    });

    it("a contrast's answer does not depend on the others asked with it (any count, any order)", async () => {
      const ev = await make(forest);
      const rows = 40;
      const all = ev.effects(X.data, rows, 0.05);
      const arms = fc.uniqueArray(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 });
      fc.assert(
        fc.property(arms, (picked) => {
          const got = ev.effects(X.data, rows, 0.05, picked.map((c) => all.contrasts[c]));
          for (let r = 0; r < rows; r++) {
            picked.forEach((c, k) => {
              for (const field of ["effect", "lower", "upper", "stderr"] as const) {
                expect(got[field][r * picked.length + k]).toBe(all[field][r * 4 + c]);
              }
            });
          }
        }),
        { numRuns: 30, seed: 20261129 },
      );
    });

    it("a singular averaged Jacobian gives NaN in every field, not an exception", async () => {
      const ev = await make({ ...forest, leafJac: new Float64Array(forest.leafJac.length) });
      const result = ev.effects(X.data, 3, 0.05);
      for (const field of ["effect", "lower", "upper", "stderr"] as const) expect([...result[field]].every(Number.isNaN)).toBe(true);
    });
  });
}
