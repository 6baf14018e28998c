// Model evaluation: the WASM core against the TypeScript reference, side by side in one process,
// with LightGBM's and EconML's own figures on this kind of machine (notes/anchors-performance.md)
// as the yardstick. Batch: rows/s over this process's CPU time, best of 3 (on a shared machine
// wall time also counts the time other processes hold the core); single row: µs median and p99.
// The ratio to the TypeScript reference is measured in the same run, so it does not depend on how
// busy the machine is; the one to the anchors does.
import { ReferenceGbdt } from "../server/model/lightgbm/reference.ts";
import { ReferenceForest } from "../server/model/causal/reference.ts";
import type { GbdtEvaluator, ForestEvaluator } from "../server/model/evaluator.ts";
import { WasmGbdt } from "../server/wasm/gbdt.ts";
import { WasmForest } from "../server/wasm/forest.ts";
import { fixtureForest, fixtureModel, sharedCore } from "../test/helpers/evaluators.ts";
import { readMatrix } from "../test/helpers/fixtures.ts";
import { loadavg } from "node:os";
import { percentiles, printTable, type BenchRow } from "./table.ts";

/** LightGBM 4.6 native C API, one thread (rows/s batch; µs median single row). */
const LIGHTGBM = { churn_model: { batch: 133_000, single: 7.9 }, speed_model: { batch: 36_000, single: 27 } };
const ECONML = { batch: 27_000, singleUs: 7300 };

/** Best-of-`repeats` seconds of this process's CPU time for `fn` (warm-up run first). */
function cpuBest(fn: () => void, repeats = 3): number {
  fn();
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const t0 = process.cpuUsage();
    fn();
    const d = process.cpuUsage(t0);
    best = Math.min(best, (d.user + d.system) / 1e6);
  }
  return best;
}

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
  console.log(`\nload average at start: ${loadavg().map((l) => l.toFixed(2)).join(" ")} (2 cores: above ~1 the figures are noisy)`);
  const rows: BenchRow[] = [];
  for (const name of ["churn_model", "speed_model"] as const) {
    const model = fixtureModel(name);
    const m = readMatrix("lightgbm", name, "test_features.csv");
    const evaluators: [string, GbdtEvaluator, number][] = [
      ["wasm", WasmGbdt.create(core, model), 100],
      ["typescript", new ReferenceGbdt(model), 10],
    ];
    const anchor = LIGHTGBM[name];
    const measured = evaluators.map(([label, ev, reps]) => {
      const big = repeatRows(m.data, reps);
      const n = m.nRows * reps;
      const batch = n / cpuBest(() => ev.predict(big, n));
      const single = singleRow((row) => ev.predict(row, 1), m.data, m.nCols, m.nRows, 30_000);
      return { label, batch, single };
    });
    const ref = measured.find((x) => x.label === "typescript")!;
    for (const { label, batch, single } of measured) {
      rows.push({
        model: name, evaluator: label, "batch rows/s": Math.round(batch), "vs LightGBM batch": `${(batch / anchor.batch).toFixed(2)}x`,
        "vs TS batch": `${(batch / ref.batch).toFixed(1)}x`,
        "single p50 µs": single.p50, "single p99 µs": single.p99, "vs LightGBM single": `${(anchor.single / single.p50).toFixed(2)}x`,
        "vs TS single": `${(ref.single.p50 / single.p50).toFixed(1)}x`,
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
  const measured = evaluators.map(([label, ev, reps]) => {
    const big = repeatRows(x.data, reps);
    const n = x.nRows * reps;
    const batch = n / cpuBest(() => ev.effects(big, n, 0.05));
    const single = singleRow((row) => ev.effects(row, 1, 0.05), x.data, x.nCols, x.nRows, label === "wasm" ? 20_000 : 2_000);
    return { label, batch, single };
  });
  const ref = measured.find((m) => m.label === "typescript")!;
  for (const { label, batch, single } of measured) {
    forestRows.push({
      evaluator: label, "batch rows/s": Math.round(batch), "vs EconML batch": `${(batch / ECONML.batch).toFixed(1)}x`,
      "vs TS batch": `${(batch / ref.batch).toFixed(1)}x`,
      "single p50 µs": single.p50, "single p99 µs": single.p99, "vs EconML single": `${(ECONML.singleUs / single.p50).toFixed(0)}x`,
      "vs TS single": `${(ref.single.p50 / single.p50).toFixed(1)}x`,
    });
  }
  printTable("Causal forest: effects with 95% intervals, all four arms", forestRows);
  console.log(
    "\nTargets: WASM batch >= 4x LightGBM on both models; single row <= 3.0 µs (churn_model), <= 9 µs (speed_model); " +
      "forest (four arms with intervals) >= 250,000 rows/s batch, <= 5 µs single row.",
  );
}
