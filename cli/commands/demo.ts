// `churn demo-drift`: traffic from the bundled sample customers, then shifted traffic with
// outcomes that the model gets wrong, then normal traffic again — and the alerts that fire and
// resolve on the way, as the live console would show them.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocket } from "ws";
import { createApp } from "../../server/app.ts";
import { bundledModels, loadConfig } from "../../server/config.ts";
import { recordFields } from "../../server/features/csv.ts";
import { startServer } from "../../server/http/server.ts";
import type { AlertEvent } from "../../server/contract/monitoring.ts";
import type { PredictRequest } from "../../server/contract/api.ts";
import { createChurnClient } from "../../client/index.ts";
import { args, readCsv } from "./common.ts";

const USAGE = `churn demo-drift [--models DIR] [--customers CSV]
  Starts a service with small monitoring windows on a free port (open the printed console URL to
  watch), sends normal, then shifted, then normal traffic with outcomes, and prints the alerts.`;

type Phase = "normal" | "shifted" | "recovered";

/** Runs the three phases; returns every alert event seen, tagged with its phase. */
export async function runDriftDemo(opts: { models?: string; customers?: string; log?: (line: string) => void } = {}) {
  const say = opts.log ?? ((l: string) => console.log(l));
  const models = opts.models ?? bundledModels();
  const config = loadConfig(["--port", "0", "--models", models, "--data-dir", mkdtempSync(join(tmpdir(), "churn-demo-"))], {});
  const app = await createApp(config, { driftWindow: 300, labelledWindow: 400, minLabelsPerClass: 50 });
  const server = await startServer(config, app);
  const client = createChurnClient(server.url, { WebSocket });
  const events: (AlertEvent & { phase: Phase })[] = [];
  let phase: Phase = "normal";
  const sub = client.monitoring.alerts.subscribe({}, {
    onData: ({ data }) => {
      events.push({ ...data, phase });
      say(`  alert ${data.state.padEnd(8)} ${data.kind} ${data.subject} (value ${data.value.toPrecision(3)}, threshold ${data.threshold})`);
    },
  });
  say(`service on ${server.url} — console: ${server.url}/console`);
  const fields = app.service.health().bundle!.fields;
  const records = readCsv(opts.customers ?? join(models, "sample_customers.csv"));
  const send = async (rows: Record<string, string>[], shift: boolean) => {
    for (let i = 0; i < rows.length; i += 100) {
      const chunk = rows.slice(i, i + 100);
      const customers = chunk.map((r, k) => {
        const c = { customer_id: `${phase}-${i + k}-${r.customer_id}`, ...recordFields(r, fields) } as PredictRequest;
        if (shift) Object.assign(c, { tenure: Math.min(72, Number(c.tenure) + 36), monthly_charges: Math.min(118, Number(c.monthly_charges) * 1.4), contract_type: "Month-to-month" });
        return c;
      });
      const { results } = await client.batchPredict.mutate({ customers });
      // Shifted customers churn where the model expected them to stay: calibration breaks too.
      const outcomes = results.map((r, k) => ({ prediction_id: r.prediction_id, churned: shift ? chunk[k].churned !== "1" : chunk[k].churned === "1" }));
      await client.recordOutcome.mutate({ outcomes });
      app.monitor.snapshot(); // evaluate now: the demo sends in seconds what a day would bring
    }
  };
  for (const [name, rows, shift] of [["normal", records.slice(0, 600), false], ["shifted", records.slice(600, 1200), true], ["recovered", records.slice(1200, 2000), false]] as const) {
    phase = name;
    say(`${name} traffic: ${rows.length} customers`);
    await send(rows, shift);
    await new Promise((r) => setTimeout(r, 100));
    const s = app.monitor.snapshot();
    say(`  AUC ${s.calibration.auc?.toFixed(3) ?? "n/a"}, drifted: ${s.feature_drift.filter((d) => d.drifted).map((d) => d.feature).join(", ") || "none"}, active alerts: ${s.alerts.length}`);
  }
  sub.unsubscribe();
  client.close();
  await server.close();
  return events;
}

export async function demoDrift(argv: string[]): Promise<void> {
  const a = args(argv, { models: { type: "string" }, customers: { type: "string" } }, USAGE);
  await runDriftDemo({ models: a.models, customers: a.customers });
}
