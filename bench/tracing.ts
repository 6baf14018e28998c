// What tracing costs when no OpenTelemetry SDK is registered (the default): each stage of scoring
// runs inside `traced()`, which then makes the API's non-recording span. Measured here: ns per
// traced() call against a plain call, and the share of a single predict that its five spans take.
import { bundledModels } from "../server/config.ts";
import { traced } from "../server/observability/trace-context.ts";
import { Recommender } from "../server/service/recommender.ts";
import { percentiles, printTable, type BenchRow } from "./table.ts";

/** Best-of-5 ns per call of `fn` over `n` calls. */
function nsPerCall(fn: () => number, n = 1_000_000): number {
  let best = Infinity;
  let sink = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n);
  }
  if (sink === -1) console.log(sink); // keeps the calls from being optimised away
  return best;
}

export async function benchTracing(): Promise<BenchRow[]> {
  const work = () => Math.sqrt(Math.random());
  const plain = nsPerCall(work);
  const spanned = nsPerCall(() => traced("stage", work));
  const service = await Recommender.open({ modelsDir: bundledModels() });
  const request = { customer_id: "bench", tenure: 12, monthly_charges: 70.5, contract_type: "Month-to-month", internet_service: "Fiber optic" } as const;
  for (let i = 0; i < 2000; i++) await service.predict(request);
  const samples: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    const t0 = performance.now();
    await service.predict(request);
    samples.push((performance.now() - t0) * 1000);
  }
  service.close();
  const { p50, p99 } = percentiles(samples);
  const perPredict = (5 * (spanned - plain)) / 1000;
  return [
    { measure: "plain call", value: plain, unit: "ns" },
    { measure: "traced() call, no SDK", value: spanned, unit: "ns" },
    { measure: "predict (5 spans) p50", value: p50, unit: "µs" },
    { measure: "predict (5 spans) p99", value: p99, unit: "µs" },
    { measure: "5 spans per predict", value: perPredict, unit: "µs" },
    { measure: "share of predict p50", value: (100 * perPredict) / p50, unit: "%" },
  ];
}

export default async function run(): Promise<void> {
  printTable("Tracing without an SDK (no-op spans)", await benchTracing());
}
