// Every LightGBM fixture model, every row of its test matrix (edge rows included), against
// LightGBM's own predictions, for both evaluators.
import { describe, expect, it } from "vitest";
import { lightgbmFixtures, readMatrix, readPredictions } from "./helpers/fixtures.ts";
import { fixtureModel, gbdtEvaluators } from "./helpers/evaluators.ts";

const models = lightgbmFixtures();

function maxAbsDiff(got: ArrayLike<number>, want: number[][], width: number): number {
  let worst = 0;
  want.forEach((row, r) => {
    expect(row.length).toBe(width);
    for (let k = 0; k < width; k++) {
      const g = got[r * width + k];
      const w = row[k];
      const d = Number.isNaN(w) && Number.isNaN(g) ? 0 : Math.abs(g - w);
      // NaN compares false: count it as the worst possible difference.
      worst = d <= worst ? worst : Number.isNaN(d) ? Infinity : d;
    }
  });
  return worst;
}

for (const [evaluatorName, make] of Object.entries(gbdtEvaluators)) {
  describe(`LightGBM parity: ${evaluatorName}`, () => {
    for (const [name, info] of Object.entries(models)) {
      // TreeSHAP on every row of speed_model's deep trees takes the TypeScript reference ~50 s
      // alone on this 2-core machine, and 75 s beside the other test files: past the default 60.
      it(name, { timeout: 240_000 }, async () => {
        const model = fixtureModel(name);
        const m = readMatrix("lightgbm", name, "test_features.csv");
        // LightGBM writes feature names with spaces replaced by "_".
        expect(m.header.map((h) => h.replaceAll(" ", "_"))).toEqual(model.featureNames);
        expect(m.nRows).toBe(info.rows + info.edge_rows);
        const ev = await make(model);
        const k = model.numClass;
        expect(maxAbsDiff(ev.predictRaw(m.data, m.nRows), readPredictions("lightgbm", name, "pred_raw.txt"), k)).toBeLessThanOrEqual(1e-12);
        expect(maxAbsDiff(ev.predict(m.data, m.nRows), readPredictions("lightgbm", name, "pred_normal.txt"), k)).toBeLessThanOrEqual(1e-12);
        expect(maxAbsDiff(ev.predictLeaf(m.data, m.nRows), readPredictions("lightgbm", name, "pred_leaf.txt"), model.trees.length)).toBe(0);
        // Every row alone too: the path of a single prediction (eight trees in lockstep), not the block walk.
        const alone = new Float64Array(m.nRows * k);
        for (let r = 0; r < m.nRows; r++) alone.set(ev.predict(m.data.subarray(r * m.nCols, (r + 1) * m.nCols), 1), r * k);
        expect(maxAbsDiff(alone, readPredictions("lightgbm", name, "pred_normal.txt"), k)).toBeLessThanOrEqual(1e-12);
        if (name === "linear_tree") {
          expect(() => ev.predictContrib(m.data, 1)).toThrow(/linear trees/);
        } else {
          const width = k * (model.numFeatures + 1);
          expect(maxAbsDiff(ev.predictContrib(m.data, m.nRows), readPredictions("lightgbm", name, "pred_contrib.txt"), width)).toBeLessThanOrEqual(1e-9);
        }
      });
    }
  });
}
