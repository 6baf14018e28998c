// A child process for the crash tests: appends predictions to the log as fast as it can and
// prints each durable sequence number once its commit is fsynced. Killed with SIGKILL mid-stream.
// With "workflow" every prediction recommends an intervention, and an outbox (no URL) is the
// log's workflow, as in the app.
import { join } from "node:path";
import { FileLog } from "../../server/store/log.ts";
import { Outbox } from "../../server/store/outbox.ts";

const args = (globalThis as { Deno?: { args: string[] } }).Deno?.args ?? process.argv.slice(2);
const [dir, mode] = args;
if (!dir) throw new Error("usage: log-writer DIR [workflow]");
const workflow = mode === "workflow";
const outbox = workflow ? await Outbox.open(join(dir, "outbox")) : undefined;
const log = await FileLog.open(workflow ? join(dir, "log") : dir, { commitIntervalMs: 2, workflow: outbox });
await outbox?.start(log);
let i = 0;
for (;;) {
  const batch = Array.from({ length: 50 }, () => {
    i++;
    return {
      prediction_id: `id-${i}`, at: Date.now(), operation: "predict" as const, customer_id: `c${i}`, model_version: "m",
      inputs: { tenure: i }, imputed_features: [], churn_probability: 0.5, effects: null,
      recommended_intervention: workflow ? "retention_call" : null, should_intervene: workflow,
      predicted_churn_reduction: null, cost: null, expected_value: null, latency_ms: 1,
    };
  });
  log.onPredictions(batch);
  await log.flushed();
  console.log(`durable ${i}`);
}
