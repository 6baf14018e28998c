// The WebAssembly core against the TypeScript reference on adversarial random rows: NaN,
// infinities, signed zeros, values below kZeroThreshold, values exactly at split thresholds and
// the next double above, unseen / negative / fractional categories. Results must be identical,
// no row may crash the core, and memory must not grow over many calls. The forest also cut down
// to fewer arms, so that its leaf statistics have other (odd) widths.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ReferenceGbdt } from "../server/model/lightgbm/reference.ts";
import { ReferenceForest } from "../server/model/causal/reference.ts";
import { WasmGbdt } from "../server/wasm/gbdt.ts";
import { WasmForest } from "../server/wasm/forest.ts";
import { fixtureForest, fixtureModel, sharedCore } from "./helpers/evaluators.ts";
import { readMatrix } from "./helpers/fixtures.ts";
import type { CausalForest } from "../server/model/causal/model.ts";

function nextUp(x: number): number {
  const b = new Float64Array([x]);
  const i = new BigInt64Array(b.buffer);
  if (x === 0) return Number.MIN_VALUE;
  i[0] += x > 0 ? 1n : -1n;
  return b[0];
}

function valueArb(thresholds: number[]) {
  return fc.oneof(
    fc.constantFrom(NaN, Infinity, -Infinity, 0, -0, 1e-40, -1e-40, 1e300, -1e300, 99, -1, 2.5, 59.9, 2 ** 31, 1e-35),
    fc.constantFrom(...thresholds),
    fc.constantFrom(...thresholds).map(nextUp),
    fc.double({ min: -5, max: 100, noNaN: true }),
    fc.integer({ min: -3, max: 70 }),
  );
}

for (const name of ["churn_model", "native_categorical", "zero_as_missing", "linear_tree", "multiclass", "multiclass_one_leaf"]) {
  describe(`WASM = reference: ${name}`, () => {
    it("on adversarial rows (property)", async () => {
      const model = fixtureModel(name);
      const wasm = WasmGbdt.create(await sharedCore(), model);
      const ref = new ReferenceGbdt(model);
      const thresholds = [...new Set(model.trees.flatMap((t) => Array.from(t.threshold)))].slice(0, 500);
      const rows = fc.array(fc.array(valueArb(thresholds.length ? thresholds : [0]), { minLength: model.numFeatures, maxLength: model.numFeatures }), { minLength: 1, maxLength: 9 });
      fc.assert(
        fc.property(rows, (rs) => {
          const m = Float64Array.from(rs.flat());
          expect(wasm.predictRaw(m, rs.length)).toEqual(ref.predictRaw(m, rs.length));
          // The transforms call exp in each runtime's own math library: equal to the last bit or two.
          const p = wasm.predict(m, rs.length);
          const q = ref.predict(m, rs.length);
          for (let i = 0; i < p.length; i++) {
            if (Number.isNaN(q[i]) || !Number.isFinite(q[i])) expect(p[i]).toBe(q[i]);
            else expect(Math.abs(p[i] - q[i])).toBeLessThanOrEqual(1e-15 * Math.max(1, Math.abs(q[i])));
          }
          expect(wasm.predictLeaf(m, rs.length)).toEqual(ref.predictLeaf(m, rs.length));
          if (!model.trees.some((t) => t.isLinear)) {
            const a = wasm.predictContrib(m, rs.length);
            const b = ref.predictContrib(m, rs.length);
            for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(1e-12);
          }
        }),
        { numRuns: 150 },
      );
      wasm.dispose();
    });
  });
}

describe("WASM core memory", () => {
  it("does not grow over many calls, and dispose frees the model", async () => {
    const core = await sharedCore();
    const model = fixtureModel("churn_model");
    const row = new Float64Array(model.numFeatures).fill(0.5);
    const batch = new Float64Array(model.numFeatures * 500).fill(0.1);
    const warm = WasmGbdt.create(core, model);
    warm.predict(batch, 500);
    warm.dispose();
    const before = core.buffer.byteLength;
    for (let round = 0; round < 20; round++) {
      const ev = WasmGbdt.create(core, model);
      for (let i = 0; i < 2000; i++) ev.predict(row, 1);
      ev.predict(batch, 500);
      ev.predictContrib(row, 1);
      ev.dispose();
    }
    expect(core.buffer.byteLength).toBe(before);
  });

  it("gives the same answers after the memory grows between calls (views over the old buffer read as empty)", async () => {
    const core = await sharedCore();
    const gbdt = WasmGbdt.create(core, fixtureModel("churn_model"));
    const forest = WasmForest.create(core, fixtureForest());
    const row = new Float64Array(gbdt.numFeatures).fill(0.5);
    const forestRow = new Float64Array(forest.numFeatures).fill(0.2);
    const before = { p: gbdt.predict(row, 1), e: forest.effects(forestRow, 1, 0.05) };
    const size = core.buffer.byteLength;
    const block = core.alloc(size);
    expect(core.buffer.byteLength).toBeGreaterThan(size);
    expect(gbdt.predict(row, 1)).toEqual(before.p);
    expect(forest.effects(forestRow, 1, 0.05)).toEqual(before.e);
    core.free(block);
    gbdt.dispose();
    forest.dispose();
  });

  it("refuses use after dispose and wrong-sized input with a clear error", async () => {
    const ev = WasmGbdt.create(await sharedCore(), fixtureModel("regression"));
    expect(() => ev.predict(new Float64Array(3), 1)).toThrow(/expected 1 rows x 21 features/);
    ev.dispose();
    expect(() => ev.predict(new Float64Array(21), 1)).toThrow(/after dispose/);
  });
});

/**
 * The fixture forest cut down to the first `arms` arms and the intercept: each leaf's alpha and the
 * principal submatrix of its Jacobian (still symmetric positive definite), so that the packed
 * statistics have another width (p = 2: 5 values, p = 3: 9, both odd).
 */
function fewerArms(forest: CausalForest, arms: number): CausalForest {
  const p = forest.nOutputs;
  const keep = [...Array(arms).keys(), p - 1];
  const q = keep.length;
  const nLeaves = forest.leafAlpha.length / p;
  const leafAlpha = new Float64Array(nLeaves * q);
  const leafJac = new Float64Array(nLeaves * q * q);
  for (let l = 0; l < nLeaves; l++) {
    keep.forEach((i, a) => {
      leafAlpha[l * q + a] = forest.leafAlpha[l * p + i];
      keep.forEach((j, b) => (leafJac[l * q * q + a * q + b] = forest.leafJac[l * p * p + i * p + j]));
    });
  }
  const treatmentColumns = forest.treatmentColumns.slice(0, arms);
  return { ...forest, nOutputs: q, nRelevantOutputs: arms, treatmentColumns, treatments: [forest.control, ...treatmentColumns], leafAlpha, leafJac };
}

describe("WASM forest = reference", () => {
  for (const arms of [1, 2]) {
    it(`with ${arms} arm(s): other widths of the leaf statistics, single rows and a walked batch`, async () => {
      const forest = fewerArms(fixtureForest(), arms);
      const wasm = WasmForest.create(await sharedCore(), forest);
      const ref = new ReferenceForest(forest);
      const X = readMatrix("causal_forest", "test_X_scaled.csv");
      // 300 rows walk tree by tree in a block (from 256); a single row walks the trees in lockstep.
      for (const n of [1, 300]) {
        const a = wasm.effects(X.data, n, 0.05);
        const b = ref.effects(X.data, n, 0.05);
        expect(a.contrasts).toHaveLength(arms);
        for (const k of ["effect", "lower", "upper", "stderr"] as const) {
          for (let i = 0; i < a[k].length; i++) expect(Math.abs(a[k][i] - b[k][i])).toBeLessThanOrEqual(1e-12 + 1e-9 * Math.abs(b[k][i]));
        }
      }
      wasm.dispose();
    });
  }

  it("on rows at thresholds, beyond them and at extremes (property)", async () => {
    const forest = fixtureForest();
    const wasm = WasmForest.create(await sharedCore(), forest);
    const ref = new ReferenceForest(forest);
    const thresholds = [...new Set(Array.from(forest.threshold).filter((t) => t !== -2))].slice(0, 300);
    const value = fc.oneof(fc.constantFrom(...thresholds), fc.constantFrom(...thresholds).map(nextUp), fc.constantFrom(1e300, -1e300, 0), fc.double({ min: -4, max: 4, noNaN: true }));
    const rows = fc.array(fc.array(value, { minLength: 21, maxLength: 21 }), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(rows, fc.constantFrom(0.05, 0.1, 0.01), (rs, alpha) => {
        const m = Float64Array.from(rs.flat());
        const a = wasm.effects(m, rs.length, alpha);
        const b = ref.effects(m, rs.length, alpha);
        for (const k of ["effect", "lower", "upper", "stderr"] as const) {
          for (let i = 0; i < a[k].length; i++) expect(Math.abs(a[k][i] - b[k][i])).toBeLessThanOrEqual(1e-12 + 1e-9 * Math.abs(b[k][i]));
        }
      }),
      { numRuns: 60 },
    );
    wasm.dispose();
  });
});
