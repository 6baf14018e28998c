// GET /metrics: the monitor's numbers in Prometheus text format (prom-client), base units,
// `_total` counters, and a latency histogram whose buckets include 0.2 s (the p99 alert).
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { LabelledOutcome, PredictionObserver, PredictionRecord } from "../contract/records.ts";
import type { Monitor } from "./monitor.ts";

export class PrometheusMetrics implements PredictionObserver {
  readonly registry = new Registry();
  private readonly duration = new Histogram({
    name: "churn_request_duration_seconds", help: "Server-side latency per operation", labelNames: ["operation"],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5], registers: [this.registry],
  });
  private readonly requests = new Counter({ name: "churn_requests_total", help: "Requests per operation", labelNames: ["operation"], registers: [this.registry] });
  private readonly predictions = new Counter({ name: "churn_predictions_total", help: "Customers scored", registers: [this.registry] });
  private readonly interventions = new Counter({ name: "churn_interventions_total", help: "Recommendations to intervene", labelNames: ["intervention"], registers: [this.registry] });
  private readonly outcomes = new Counter({ name: "churn_outcomes_total", help: "Observed outcomes joined to predictions", registers: [this.registry] });

  constructor(private readonly monitor: Monitor, extra: (registry: Registry) => void = () => {}) {
    const m = this.monitor;
    const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void) =>
      new Gauge({ name, help, labelNames, registers: [this.registry], collect() { collect(this); } });
    // Every gauge of a scrape reads the same evaluation: the server's own if under a second old.
    const current = () => m.recent(1000);
    gauge("churn_auc", "AUC over the labelled window (absent with too few labels)", [], (g) => {
      const v = current().calibration.auc;
      if (v !== null) g.set(v);
    });
    gauge("churn_brier_score", "Brier score over the labelled window", [], (g) => {
      const v = current().calibration.brier;
      if (v !== null) g.set(v);
    });
    gauge("churn_expected_calibration_error", "ECE over 10 equal-width bins", [], (g) => {
      const v = current().calibration.ece;
      if (v !== null) g.set(v);
    });
    gauge("churn_labelled_predictions", "Labelled predictions in the calibration window", [], (g) => g.set(current().calibration.labelled));
    gauge("churn_feature_drift_pvalue", "Drift test p-value per input feature", ["feature", "test"], (g) => {
      g.reset();
      for (const d of current().feature_drift) if (d.p_value !== null) g.set({ feature: d.feature, test: d.test }, d.p_value);
    });
    gauge("churn_feature_drift_statistic", "Drift test statistic per input feature (KS D or chi-square)", ["feature", "test"], (g) => {
      g.reset();
      for (const d of current().feature_drift) if (d.statistic !== null) g.set({ feature: d.feature, test: d.test }, d.statistic);
    });
    gauge("churn_effect_drift_pvalue", "KS p-value of each intervention's predicted effect", ["intervention"], (g) => {
      g.reset();
      for (const d of current().effect_drift) if (d.p_value !== null) g.set({ intervention: d.intervention }, d.p_value);
    });
    gauge("churn_alerts_active", "Alerts firing now", ["kind"], (g) => {
      g.reset();
      for (const a of current().alerts) g.inc({ kind: a.kind });
    });
    new Counter({ name: "churn_alerts_fired_total", help: "Alert events ever emitted", registers: [this.registry], collect() { this.reset(); this.inc(m.alerts.fired); } });
    extra(this.registry);
  }

  observeLatency(operation: string, ms: number): void {
    this.duration.observe({ operation }, ms / 1000);
    this.requests.inc({ operation });
  }

  onPredictions(records: PredictionRecord[]): void {
    this.predictions.inc(records.length);
    for (const r of records) if (r.should_intervene && r.recommended_intervention) this.interventions.inc({ intervention: r.recommended_intervention });
  }

  onOutcomes(outcomes: LabelledOutcome[]): void {
    this.outcomes.inc(outcomes.length);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
