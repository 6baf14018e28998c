// A child process for the crash test: appends predictions to the log as fast as it can and
// prints each durable sequence number once its commit is fsynced. Killed with SIGKILL mid-stream.
import { FileLog } from "../../server/store/log.ts";

const dir = process.argv[2] ?? (globalThis as { Deno?: { args: string[] } }).Deno?.args[0];
if (!dir) throw new Error("usage: log-writer DIR");
const log = await FileLog.open(dir, { commitIntervalMs: 2 });
let i = 0;
for (;;) {
  const batch = Array.from({ length: 50 }, () => {
    i++;
    return {
      prediction_id: `id-${i}`, at: Date.now(), operation: "predict" as const, customer_id: `c${i}`, model_version: "m",
      inputs: { tenure: i }, imputed_features: [], churn_probability: 0.5, effects: null, recommended_intervention: null,
      should_intervene: false, predicted_churn_reduction: null, cost: null, expected_value: null, latency_ms: 1,
    };
  });
  log.onPredictions(batch);
  await log.flushed();
  console.log(`durable ${i}`);
}
