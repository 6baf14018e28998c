// GET /metrics: the monitor's numbers in Prometheus text format (prom-client), base units,
// `_total` counters, a latency histogram whose buckets include 0.2 s (the p99 alert), and the
// process and runtime metrics every Node service exports (event-loop lag, GC, heap, RSS, file
// descriptors). A figure with no data yet has no sample at all, never 0: a rule such as
// `churn_auc < 0.75` must not fire on a fresh pod.
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import { countedCounter, CountedHistogram } from "./counted.ts";
import type { MetricsSnapshot } from "../contract/monitoring.ts";
import { FIELD_UNKNOWN, fieldSource, type LabelledOutcome, type PredictionObserver, type PredictionRecord } from "../contract/records.ts";
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
  // Updated on every request: counted here, formatted by prom-client at a scrape (counted.ts).
  private readonly duration = new CountedHistogram(
    "churn_request_duration_seconds", "Server-side latency per operation", "operation",
    [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5], this.registry,
  );
  private readonly requests = countedCounter("churn_requests_total", "Requests per operation", "operation", this.registry);
  private readonly predictions = countedCounter("churn_predictions_total", "Customers scored", null, this.registry);
  private readonly interventions = countedCounter("churn_interventions_total", "Recommendations to intervene", "intervention", this.registry);
  private readonly spend = countedCounter("churn_intervention_spend_total", "Cost of the recommended interventions, in the manifest's currency", "intervention", this.registry);
  private readonly scores = new CountedHistogram(
    "churn_score", "Churn probability of each scored customer", null, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1], this.registry,
  );
  private readonly imputed = countedCounter("churn_feature_imputed_total", "Scored customers whose field was imputed (neither sent nor stored)", "feature", this.registry);
  private readonly unknown = countedCounter("churn_feature_unknown_category_total", "Scored customers whose categorical field held a category the model does not know", "feature", this.registry);
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
    this.duration.record(ms / 1000, operation);
    this.requests(1, operation);
  }

  onPredictions(records: PredictionRecord[]): void {
    this.predictions(records.length);
    for (const r of records) {
      this.scores.record(r.churn_probability);
      if (r.should_intervene && r.recommended_intervention) {
        this.interventions(1, r.recommended_intervention);
        if (r.cost) this.spend(r.cost, r.recommended_intervention);
      }
      for (const feature of r.imputed_features) this.imputed(1, feature);
      for (const feature in r.inputs) if (fieldSource(r, feature) === FIELD_UNKNOWN) this.unknown(1, feature);
    }
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
