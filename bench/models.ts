// Model evaluation: the WASM core against the TypeScript reference, side by side in one process,
// with LightGBM's and EconML's own figures on this kind of machine (notes/anchors-performance.md)
// as the yardstick. Batch: rows/s, best of 3; single row: µs median and p99.
import { ReferenceGbdt } from "../server/model/lightgbm/reference.ts";
import { ReferenceForest } from "../server/model/causal/reference.ts";
import type { GbdtEvaluator, ForestEvaluator } from "../server/model/evaluator.ts";
import { WasmGbdt } from "../server/wasm/gbdt.ts";
import { WasmForest } from "../server/wasm/forest.ts";
import { fixtureForest, fixtureModel, sharedCore } from "../test/helpers/evaluators.ts";
import { readMatrix } from "../test/helpers/fixtures.ts";
import { percentiles, printTable, timeBest, type BenchRow } from "./table.ts";

/** LightGBM 4.6 native C API, one thread (rows/s batch; µs median single row). */
const LIGHTGBM = { churn_model: { batch: 133_000, single: 7.9 }, speed_model: { batch: 36_000, single: 27 } };
const ECONML = { batch: 27_000, singleUs: 7300 };

function repeatRows(data: Float64Array, times: number): Float64Array {
  const out = new Float64Array(data.length * times);
  for (let i = 0; i < times; i++) out.set(data, i * data.length);
  return out;
}

function singleRow(fn: (row: Float64Array) => void, data: Float64Array, width: number, n: number, calls: number): { p50: number; p99: number } {
  const samples: number[] = [];
  for (let i = 0; i < calls; i++) {
    const r = i % n;
    const row = data.subarray(r * width, (r + 1) * width);
    const t0 = performance.now();
    fn(row);
    samples.push((performance.now() - t0) * 1000);
  }
  return percentiles(samples.slice(calls / 10));
}

export default async function run(): Promise<void> {
  const core = await sharedCore();
  const rows: BenchRow[] = [];
  for (const name of ["churn_model", "speed_model"] as const) {
    const model = fixtureModel(name);
    const m = readMatrix("lightgbm", name, "test_features.csv");
    const evaluators: [string, GbdtEvaluator, number][] = [
      ["wasm", WasmGbdt.create(core, model), 100],
      ["typescript", new ReferenceGbdt(model), 10],
    ];
    const anchor = LIGHTGBM[name];
    for (const [label, ev, reps] of evaluators) {
      const big = repeatRows(m.data, reps);
      const n = m.nRows * reps;
      const seconds = timeBest(() => ev.predict(big, n));
      const single = singleRow((row) => ev.predict(row, 1), m.data, m.nCols, m.nRows, 30_000);
      rows.push({
        model: name, evaluator: label, "batch rows/s": Math.round(n / seconds), "vs LightGBM batch": `${(n / seconds / anchor.batch).toFixed(2)}x`,
        "single p50 µs": single.p50, "single p99 µs": single.p99, "vs LightGBM single": `${(anchor.single / single.p50).toFixed(2)}x`,
      });
    }
  }
  printTable("LightGBM models (normal prediction, one thread)", rows);

  const forest = fixtureForest();
  const x = readMatrix("causal_forest", "test_X_scaled.csv");
  const forestRows: BenchRow[] = [];
  const evaluators: [string, ForestEvaluator, number][] = [
    ["wasm", WasmForest.create(core, forest), 10],
    ["typescript", new ReferenceForest(forest), 1],
  ];
  for (const [label, ev, reps] of evaluators) {
    const big = repeatRows(x.data, reps);
    const n = x.nRows * reps;
    const seconds = timeBest(() => ev.effects(big, n, 0.05));
    const single = singleRow((row) => ev.effects(row, 1, 0.05), x.data, x.nCols, x.nRows, label === "wasm" ? 20_000 : 2_000);
    forestRows.push({
      evaluator: label, "batch rows/s": Math.round(n / seconds), "vs EconML batch": `${(n / seconds / ECONML.batch).toFixed(1)}x`,
      "single p50 µs": single.p50, "single p99 µs": single.p99, "vs EconML single": `${(ECONML.singleUs / single.p50).toFixed(0)}x`,
    });
  }
  printTable("Causal forest: effects with 95% intervals, all four arms", forestRows);
  console.log("\nTargets: WASM batch >= 2x LightGBM (aim 4x); single row no slower than LightGBM's fast API; forest >= 100,000 rows/s batch, < 50 µs single.");
}
