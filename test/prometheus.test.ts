// GET /metrics' text from the metrics object: absent series (not 0) without data, process and
// runtime metrics, interventions and spend, score histogram, imputed and unknown-category counts,
// events ingested, the workflow's oldest pending entry.
import { describe, expect, it } from "vitest";
import type { Reference } from "../server/contract/bundle.ts";
import type { PredictionRecord } from "../server/contract/records.ts";
import { Monitor } from "../server/monitor/monitor.ts";
import { PrometheusMetrics } from "../server/monitor/prometheus.ts";

const reference: Reference = {
  rows: 100,
  numeric: { tenure: Array.from({ length: 100 }, (_, i) => i % 60) },
  categories: { contract_type: { "Month-to-month": 50, "One year": 30, "Two year": 20 } },
  effects: { email_nudge: Array.from({ length: 100 }, (_, i) => -0.05 + (i % 10) / 1000) },
};

let n = 0;
function record(over: Partial<PredictionRecord> = {}): PredictionRecord {
  n++;
  return {
    prediction_id: `p${n}`, at: Date.now(), operation: "predict", customer_id: `c${n}`, model_version: "m@1",
    inputs: { tenure: 10, contract_type: "One year" }, imputed_features: [], churn_probability: 0.35, effects: null,
    recommended_intervention: null, should_intervene: false, predicted_churn_reduction: null, cost: null, expected_value: null, latency_ms: 1,
    ...over,
  };
}

/** The sample lines of one metric (no # HELP / # TYPE). */
const samples = (text: string, name: string) => text.split("\n").filter((l) => l.startsWith(name + " ") || l.startsWith(name + "{"));

describe("Prometheus metrics", () => {
  it("has no sample where there is no data, and process and runtime metrics from the start", async () => {
    const m = new Monitor();
    m.setBundle("m@1", reference);
    const text = await new PrometheusMetrics(m).text();
    for (const name of ["churn_auc", "churn_brier_score", "churn_expected_calibration_error", "churn_workflow_oldest_pending_seconds", "churn_feature_drift_pvalue"]) {
      expect(text).toContain(`# TYPE ${name} gauge`);
      expect(samples(text, name), name).toEqual([]);
    }
    expect(samples(text, "churn_labelled_predictions")).toEqual(["churn_labelled_predictions 0"]);
    for (const name of ["process_resident_memory_bytes", "process_cpu_seconds_total", "nodejs_eventloop_lag_seconds", "nodejs_heap_size_used_bytes", "process_open_fds"]) {
      expect(samples(text, name).length, name).toBeGreaterThan(0);
    }
    expect(text).toContain("# TYPE nodejs_gc_duration_seconds histogram");
  });

  it("reports calibration once there are labels, and the oldest pending workflow entry", async () => {
    const m = new Monitor({ minLabelsPerClass: 1 });
    m.setBundle("m@1", reference);
    const at = Date.now() - 30_000;
    m.watchWorkflow(() => ({ url: "http://hook", pending: 2, retrying: 1, delivered: 0, dead: 0, recorded: 0, oldest_pending_at: at }));
    m.onOutcomes([
      { prediction_id: "a", churn_probability: 0.9, churned: true, at },
      { prediction_id: "b", churn_probability: 0.2, churned: false, at },
    ]);
    const text = await new PrometheusMetrics(m).text();
    expect(samples(text, "churn_auc")).toEqual(["churn_auc 1"]);
    expect(samples(text, "churn_brier_score")).toHaveLength(1);
    expect(Number(samples(text, "churn_workflow_oldest_pending_seconds")[0].split(" ")[1])).toBeGreaterThanOrEqual(30);
  });

  it("counts interventions, spend, scores, imputed fields and unknown categories", async () => {
    const metrics = new PrometheusMetrics(new Monitor());
    metrics.onPredictions([
      record({ should_intervene: true, recommended_intervention: "discount_10pct", cost: 25, churn_probability: 0.81 }),
      record({ should_intervene: true, recommended_intervention: "discount_10pct", cost: 25, churn_probability: 0.72 }),
      record({ inputs: { tenure: 5, contract_type: null }, imputed_features: ["tenure"], churn_probability: 0.05 }),
      record({ inputs: { tenure: 5, contract_type: null }, imputed_features: ["contract_type"] }),
    ]);
    const text = await metrics.text();
    expect(text).toContain('churn_interventions_total{intervention="discount_10pct"} 2');
    expect(text).toContain('churn_intervention_spend_total{intervention="discount_10pct"} 50');
    expect(text).toContain('churn_feature_imputed_total{feature="tenure"} 1');
    expect(text).toContain('churn_feature_imputed_total{feature="contract_type"} 1');
    expect(text).toContain('churn_feature_unknown_category_total{feature="contract_type"} 1');
    expect(text).toContain('churn_score_bucket{le="0.1"} 1');
    expect(text).toContain('churn_score_bucket{le="0.8"} 3');
    expect(text).toContain("churn_score_count 4");
  });

  it("counts ingested events by status for the events API", async () => {
    const metrics = new PrometheusMetrics(new Monitor());
    metrics.eventsIngested(1000, "accepted");
    metrics.eventsIngested(3, "duplicate");
    metrics.eventsIngested(1, "accepted");
    const text = await metrics.text();
    expect(text).toContain('churn_events_ingested_total{status="accepted"} 1001');
    expect(text).toContain('churn_events_ingested_total{status="duplicate"} 3');
  });
});
