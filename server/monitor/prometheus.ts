// GET /metrics: the monitor's numbers in Prometheus text format (prom-client), base units,
// `_total` counters, a latency histogram whose buckets include 0.2 s (the p99 alert), and the
// process and runtime metrics every Node service exports (event-loop lag, GC, heap, RSS, file
// descriptors). A figure with no data yet has no sample at all, never 0: a rule such as
// `churn_auc < 0.75` must not fire on a fresh pod.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { MetricsSnapshot } from "../contract/monitoring.ts";
import type { LabelledOutcome, PredictionObserver, PredictionRecord } from "../contract/records.ts";
import type { Monitor } from "./monitor.ts";

/** An unlabelled gauge whose sample is absent while `read` gives null (prom-client's own would say 0). */
class OptionalGauge extends Gauge {
  constructor(name: string, help: string, registry: Registry, private readonly read: () => number | null) {
    super({ name, help, registers: [registry] });
  }
  override async get() {
    const metric = await super.get();
    const v = this.read();
    return { ...metric, values: v === null ? [] : [{ value: v, labels: {} }] };
  }
}

export type IngestStatus = "accepted" | "duplicate" | "refused";

export class PrometheusMetrics implements PredictionObserver {
  readonly registry = new Registry();
  private readonly duration = new Histogram({
    name: "churn_request_duration_seconds", help: "Server-side latency per operation", labelNames: ["operation"],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5], registers: [this.registry],
  });
  private readonly requests = new Counter({ name: "churn_requests_total", help: "Requests per operation", labelNames: ["operation"], registers: [this.registry] });
  private readonly predictions = new Counter({ name: "churn_predictions_total", help: "Customers scored", registers: [this.registry] });
  private readonly interventions = new Counter({ name: "churn_interventions_total", help: "Recommendations to intervene", labelNames: ["intervention"], registers: [this.registry] });
  private readonly spend = new Counter({ name: "churn_intervention_spend_total", help: "Cost of the recommended interventions, in the manifest's currency", labelNames: ["intervention"], registers: [this.registry] });
  private readonly scores = new Histogram({
    name: "churn_score", help: "Churn probability of each scored customer", registers: [this.registry],
    buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
  });
  private readonly imputed = new Counter({ name: "churn_feature_imputed_total", help: "Scored customers whose field was imputed (neither sent nor stored)", labelNames: ["feature"], registers: [this.registry] });
  private readonly unknown = new Counter({ name: "churn_feature_unknown_category_total", help: "Scored customers whose categorical field held a category the model does not know", labelNames: ["feature"], registers: [this.registry] });
  private readonly outcomes = new Counter({ name: "churn_outcomes_total", help: "Observed outcomes joined to predictions", registers: [this.registry] });
  private readonly events = new Counter({ name: "churn_events_ingested_total", help: "Customer events received, by what became of them", labelNames: ["status"], registers: [this.registry] });

  constructor(private readonly monitor: Monitor, extra: (registry: Registry) => void = () => {}) {
    const m = this.monitor;
    collectDefaultMetrics({ register: this.registry });
    const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void) =>
      new Gauge({ name, help, labelNames, registers: [this.registry], collect() { collect(this); } });
    // Every gauge of a scrape reads the same evaluation: the server's own if under a second old.
    const current = () => m.recent(1000);
    new OptionalGauge("churn_auc", "AUC over the labelled window (absent with too few labels)", this.registry, () => current().calibration.auc);
    new OptionalGauge("churn_brier_score", "Brier score over the labelled window (absent with no labels)", this.registry, () => current().calibration.brier);
    new OptionalGauge("churn_expected_calibration_error", "ECE over 10 equal-width bins (absent with no labels)", this.registry, () => current().calibration.ece);
    gauge("churn_labelled_predictions", "Labelled predictions in the calibration window", [], (g) => g.set(current().calibration.labelled));
    gauge("churn_labelled_positives", "Churned outcomes in the calibration window", [], (g) => g.set(current().calibration.positives));
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
    // Realized uplift (DESIGN section 10), overall (intervention="overall") and per intervention.
    const upliftGauge = (name: string, help: string, read: (e: MetricsSnapshot["uplift"]["overall"]) => number | null) =>
      gauge(name, help, ["intervention"], (g) => {
        g.reset();
        const u = current().uplift;
        for (const [intervention, e] of [["overall", u.overall] as const, ...u.by_intervention.map((e) => [e.intervention, e] as const)]) {
          const v = read(e);
          if (v !== null) g.set({ intervention }, v);
        }
      });
    upliftGauge("churn_uplift", "Realized uplift: churn rate of holdout minus treated (absent with too few labels)", (e) => e.uplift);
    upliftGauge("churn_uplift_ci_lower", "Lower end of the realized uplift's 95% interval (Newcombe)", (e) => e.ci_lower);
    upliftGauge("churn_uplift_ci_upper", "Upper end of the realized uplift's 95% interval (Newcombe)", (e) => e.ci_upper);
    upliftGauge("churn_uplift_predicted_reduction", "The forest's mean predicted reduction for the same customers", (e) => e.predicted_reduction);
    gauge("churn_uplift_labelled", "Labelled predictions in the realized-uplift window, by group", ["group"], (g) => {
      const u = current().uplift;
      g.set({ group: "treated" }, u.labelled_treated);
      g.set({ group: "holdout" }, u.labelled_holdout);
    });
    new OptionalGauge("churn_policy_value_per_customer", "Realized value of the policy per customer it acts on (absent with too few labels)", this.registry, () => current().uplift.policy_value.per_customer);
    new OptionalGauge("churn_workflow_oldest_pending_seconds", "Age of the oldest undelivered workflow entry (absent with none)", this.registry, () => current().workflow?.oldest_pending_s ?? null);
    new Counter({ name: "churn_alerts_fired_total", help: "Alert events ever emitted", registers: [this.registry], collect() { this.reset(); this.inc(m.alerts.fired); } });
    extra(this.registry);
  }

  observeLatency(operation: string, ms: number): void {
    this.duration.observe({ operation }, ms / 1000);
    this.requests.inc({ operation });
  }

  onPredictions(records: PredictionRecord[]): void {
    this.predictions.inc(records.length);
    // Tallied per call first: one counter update per label, not per customer, for a large batch.
    const imputed = new Map<string, number>();
    const unknown = new Map<string, number>();
    const add = (tally: Map<string, number>, key: string, n = 1) => tally.set(key, (tally.get(key) ?? 0) + n);
    for (const r of records) {
      this.scores.observe(r.churn_probability);
      if (r.should_intervene && r.recommended_intervention) {
        this.interventions.inc({ intervention: r.recommended_intervention });
        if (r.cost) this.spend.inc({ intervention: r.recommended_intervention }, r.cost);
      }
      for (const f of r.imputed_features) add(imputed, f);
      // The pipeline maps an unknown category to null without calling it imputed.
      for (const f in r.inputs) if (r.inputs[f] === null && !r.imputed_features.includes(f)) add(unknown, f);
    }
    for (const [feature, n] of imputed) this.imputed.inc({ feature }, n);
    for (const [feature, n] of unknown) this.unknown.inc({ feature }, n);
  }

  onOutcomes(outcomes: LabelledOutcome[]): void {
    this.outcomes.inc(outcomes.length);
  }

  /** Customer events received, by what became of them. */
  onEvents(counts: { applied: number; duplicate: number; refused: number }): void {
    this.eventsIngested(counts.applied, "accepted");
    this.eventsIngested(counts.duplicate, "duplicate");
    this.eventsIngested(counts.refused, "refused");
  }

  eventsIngested(n: number, status: IngestStatus): void {
    if (n > 0) this.events.inc({ status }, n);
  }

  /** Where a scrape's text comes from: this registry, or (one worker of several) every worker's. */
  private source: () => Promise<string> = () => this.registry.metrics();

  /** A worker sharing its port with others: a scrape, which reaches one of them, answers for all. */
  gatherWith(source: () => Promise<string>): void {
    this.source = source;
  }

  text(): Promise<string> {
    return this.source();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
