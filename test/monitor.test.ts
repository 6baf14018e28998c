// The monitor on synthetic traffic: calibration equals the statistics functions, drift fires on
// shifted inputs and resolves when they return, one firing event per condition, nulls (not 0)
// while there is too little data.
import { describe, expect, it } from "vitest";
import type { Reference } from "../server/contract/bundle.ts";
import { Monitor } from "../server/monitor/monitor.ts";
import { auc, brier, ece, reliability } from "../server/monitor/stats.ts";
import { PredictionIds } from "../server/contract/ids.ts";
import type { PredictionRecord } from "../server/contract/records.ts";
import type { OutcomeInput } from "../server/contract/api.ts";
import { recordOutcomes } from "../server/service/outcomes.ts";
import { FileLog } from "../server/store/log.ts";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ids = new PredictionIds();
let n = 0;
function record(tenure: number, p: number, effect = -0.05, contract = "One year"): PredictionRecord {
  n++;
  return {
    prediction_id: ids.next(), at: Date.now(), operation: "predict", customer_id: `c${n}`, model_version: "m@1",
    inputs: { tenure, contract_type: contract }, imputed_features: [], churn_probability: p,
    effects: { email_nudge: { effect, lower: effect - 0.1, upper: effect + 0.1 } },
    recommended_intervention: null, should_intervene: false, predicted_churn_reduction: null, cost: null, expected_value: null, latency_ms: 1,
  };
}

const reference: Reference = {
  rows: 1000,
  numeric: { tenure: Array.from({ length: 1000 }, (_, i) => i % 60) },
  categories: { contract_type: { "Month-to-month": 500, "One year": 300, "Two year": 200 } },
  effects: { email_nudge: Array.from({ length: 1000 }, (_, i) => -0.05 + ((i % 21) - 10) / 1000) },
};

/** A monitor fed by the service's outcome operation, joining through a prediction log of what it is shown (as in the app). */
async function joiningMonitor(options: ConstructorParameters<typeof Monitor>[0]) {
  const log = await FileLog.open(mkdtempSync(join(tmpdir(), "churn-monitor-")));
  const m = new Monitor(options);
  const show = (records: PredictionRecord[]) => {
    log.onPredictions(records);
    m.onPredictions(records);
  };
  const outcome = (o: OutcomeInput) => recordOutcomes(log, [m], o);
  return { m, show, outcome };
}

const contracts = ["Month-to-month", "Month-to-month", "Month-to-month", "Month-to-month", "Month-to-month", "One year", "One year", "One year", "Two year", "Two year"];

describe("monitor", () => {
  it("reports nulls, not zeros, with too little data", () => {
    const m = new Monitor();
    m.setBundle("m@1", reference);
    const s = m.snapshot();
    expect(s.latency.predict).toMatchObject({ count: 0, p50_ms: null, p99_ms: null });
    expect(s.throughput_rps).toBeNull();
    expect(s.calibration).toMatchObject({ status: "insufficient data", labelled: 0, auc: null, brier: null, ece: null });
    expect(s.feature_drift.find((d) => d.feature === "tenure")).toMatchObject({ statistic: null, p_value: null, drifted: false });
    expect(s.alerts).toEqual([]);
  });

  it("hands subscribers the latest evaluation while it is younger than their interval", () => {
    const m = new Monitor();
    m.setBundle("m@1", reference);
    const first = m.snapshot(1_000_000);
    expect(m.recent(1000, 1_000_999)).toBe(first);
    const next = m.recent(1000, 1_001_000);
    expect(next).not.toBe(first);
    expect(next.at).toBe(new Date(1_001_000).toISOString());
    expect(m.recent(1000, 1_001_500)).toBe(next);
  });

  it("computes calibration over labelled predictions with the same functions as the stats tests", async () => {
    const { m, show, outcome } = await joiningMonitor({ minLabelsPerClass: 10 });
    const labels: number[] = [];
    const scores: number[] = [];
    for (let i = 0; i < 300; i++) {
      const p = (i % 100) / 100;
      const r = record(10, p);
      show([r]);
      const y = (i * 7919) % 100 < p * 100 ? 1 : 0;
      await outcome({ prediction_id: r.prediction_id, churned: y === 1 });
      labels.push(y);
      scores.push(p);
    }
    const c = m.snapshot().calibration;
    expect(c.labelled).toBe(300);
    expect(c.auc).toBe(auc(labels, scores));
    expect(c.brier).toBe(brier(labels, scores));
    expect(c.ece).toBe(ece(reliability(labels, scores)));
    expect((await outcome({ prediction_id: "nope", churned: true })).unmatched).toEqual([{ index: 0, reason: expect.stringMatching(/no prediction nope/) }]);
    // By customer: the customer's latest prediction.
    const r = record(10, 0.9);
    show([r]);
    expect((await outcome({ customer_id: r.customer_id, churned: true })).matched[0].prediction_id).toBe(r.prediction_id);
  });

  it("joins outcomes through the log's index: by id, or the customer's latest; counts only what joined", async () => {
    const { m, show, outcome } = await joiningMonitor({});
    const rs = [record(1, 0.1), record(2, 0.2), record(3, 0.3)];
    rs.push({ ...record(4, 0.4), customer_id: rs[1].customer_id }); // the same customer again
    show(rs);
    expect((await outcome({ prediction_id: rs[0].prediction_id, churned: true })).matched).toEqual([{ index: 0, prediction_id: rs[0].prediction_id, churn_probability: 0.1 }]);
    expect((await outcome({ customer_id: rs[1].customer_id, churned: false })).matched).toEqual([{ index: 0, prediction_id: rs[3].prediction_id, churn_probability: 0.4 }]);
    expect((await outcome({ customer_id: "nobody", churned: true })).unmatched[0].reason).toMatch(/no prediction for customer nobody/);
    expect(m.snapshot().calibration).toMatchObject({ labelled: 2, positives: 1 });
  });

  it("keeps a feature's window across a reload that keeps the feature, and starts afresh when it changes", () => {
    const m = new Monitor({ driftWindow: 200 });
    m.setBundle("m@1", reference);
    for (let i = 0; i < 150; i++) m.onPredictions([record(i % 60, 0.5, -0.05, contracts[i % 10])]);
    m.setBundle("m@2", { ...reference, categories: { contract_type: { "Month-to-month": 1, "Two year": 1 } } });
    const s = m.snapshot();
    expect(s.model_version).toBe("m@2");
    expect(s.feature_drift.find((d) => d.feature === "tenure")!.window).toBe(150);
    expect(s.feature_drift.find((d) => d.feature === "contract_type")!.window).toBe(0);
    // Imputed values are not what callers sent: they stay out of the window.
    m.onPredictions([{ ...record(10, 0.5), imputed_features: ["tenure"] }]);
    expect(m.snapshot().feature_drift.find((d) => d.feature === "tenure")!.window).toBe(150);
  });

  it("fires drift once when inputs shift, and resolves when they return", () => {
    const m = new Monitor({ driftWindow: 500 });
    m.setBundle("m@1", reference);
    const events: string[] = [];
    m.alerts.subscribe((e) => events.push(`${e.state}:${e.kind}:${e.subject}`));
    for (let i = 0; i < 500; i++) m.onPredictions([record(i % 60, 0.5, -0.05 + ((i % 21) - 10) / 1000, contracts[i % 10])]);
    expect(m.snapshot().feature_drift.every((d) => !d.drifted)).toBe(true);
    for (let i = 0; i < 500; i++) m.onPredictions([record(40 + (i % 60), 0.5, 0.1, "Two year")]);
    const drifted = m.snapshot();
    m.snapshot(); // evaluating again must not fire again
    expect(drifted.feature_drift.filter((d) => d.drifted).map((d) => d.feature).sort()).toEqual(["contract_type", "tenure"]);
    expect(drifted.effect_drift[0]).toMatchObject({ intervention: "email_nudge", drifted: true });
    expect(drifted.effect_drift[0].mean_shift).toBeCloseTo(0.15, 3);
    expect(events.sort()).toEqual(["firing:effect_drift:email_nudge", "firing:feature_drift:contract_type", "firing:feature_drift:tenure"]);
    for (let i = 0; i < 500; i++) m.onPredictions([record(i % 60, 0.5, -0.05 + ((i % 21) - 10) / 1000, contracts[i % 10])]);
    expect(m.snapshot().alerts).toEqual([]);
    expect(events.filter((e) => e.startsWith("resolved")).length).toBe(3);
    expect(m.alerts.since("3").map((e) => e.state)).toEqual(["resolved", "resolved", "resolved"]);
  });

  it("alerts on p99 latency above 200 ms, and on AUC below 0.75 with enough labels", async () => {
    const { m, show, outcome } = await joiningMonitor({ minLabelsPerClass: 20 });
    for (let i = 0; i < 100; i++) m.observeLatency("predict", i < 95 ? 1 : 500);
    for (let i = 0; i < 100; i++) {
      const r = record(1, Math.random());
      show([r]);
      await outcome({ prediction_id: r.prediction_id, churned: i % 2 === 0 });
    }
    const kinds = m.snapshot().alerts.map((a) => `${a.kind}:${a.subject}`).sort();
    expect(kinds).toEqual(["auc:churn_model", "latency:predict"]);
  });
});
