// The service watching itself (DESIGN section 5): latency, calibration against observed
// outcomes, feature and treatment-effect drift against the bundle's reference, and alerts.
// It receives every answered prediction and every joined outcome as an observer; `snapshot()`
// is the console contract.
import type { Reference } from "../contract/bundle.ts";
import type { AlertEvent, FeatureHistogram, HistoryPoint, MetricsSnapshot, MonitoringFeed, WorkflowSummary } from "../contract/monitoring.ts";
import type { LabelledOutcome, PredictionObserver, PredictionRecord } from "../contract/records.ts";
import type { WorkflowStatus } from "../contract/storage.ts";
import { Alerts, type AlertLedger } from "./alerts.ts";
import { categoricalHistogram, numericBins, numericHistogram, scoreHistogram, type NumericBins } from "./histograms.ts";
import { SnapshotHistory } from "./history.ts";
import { LatencyTracker } from "./latency.ts";
import { auc, brier, chi2Contingency, ece, ks2sampSorted, reliability, sorted } from "./stats.ts";
import { FieldSources, InterventionTally } from "./tallies.ts";
import { UpliftWindow } from "./uplift.ts";
import { InputWindow, LabelledWindow, NumberWindow } from "./windows.ts";

export interface MonitorOptions {
  /** Live window of requests for feature and effect drift (1,000). */
  driftWindow?: number;
  /** Fewest live values before a drift test is run (100). */
  driftMinimum?: number;
  /** Labelled predictions the calibration figures cover (5,000). */
  labelledWindow?: number;
  /** Labels of each class needed before AUC is reported and alerted on (200). */
  minLabelsPerClass?: number;
  /** Labelled treated and holdout predictions that realized uplift covers (10,000). */
  upliftWindow?: number;
  /** Labels in each group (treated, holdout) before an uplift figure is reported (30). */
  upliftMinimum?: number;
  /** Labels in each group before effect_calibration is alerted on (200). */
  effectCalibrationMinimum?: number;
  latencyWindowS?: number;
  p99AlertMs?: number;
  aucAlert?: number;
  driftAlertP?: number;
  /** Spacing and length of the history sent to new subscribers (10 s, 360: the last hour). */
  historyIntervalMs?: number;
  historySize?: number;
  /** Among several replicas: this one's name (its latency alerts are its own) and where alert changes are proposed. */
  replica?: string;
  alertLedger?: AlertLedger;
}


const EMPTY_LATENCY = { count: 0, p50_ms: null, p95_ms: null, p99_ms: null, max_ms: null };

export class Monitor implements PredictionObserver, MonitoringFeed {
  readonly alerts: Alerts;
  readonly latency: LatencyTracker;
  private readonly o: Required<Omit<MonitorOptions, "replica" | "alertLedger">> & Pick<MonitorOptions, "replica">;
  private readonly started = Date.now();
  private requests = 0;
  /** The bundle's reference, its samples sorted once: every KS test reuses them. */
  private reference: { numeric: Map<string, Float64Array>; bins: Map<string, NumericBins>; effects: Map<string, Float64Array>; categories: Reference["categories"] } | null = null;
  private modelVersion: string | null = null;
  private readonly inputs: InputWindow;
  private readonly effects = new Map<string, NumberWindow>();
  private readonly labelled: LabelledWindow;
  private readonly uplift: UpliftWindow;
  private calibrated: MetricsSnapshot["calibration"] | null = null;
  private holdoutFraction: number | null = null;
  private readonly scores: NumberWindow;
  private readonly fieldSources: FieldSources;
  private readonly interventions = new InterventionTally();
  private readonly past: SnapshotHistory;
  private workflow: (() => WorkflowStatus) | null = null;
  /** The latest evaluation, which subscribers share (see `recent`). */
  private latest: { at: number; snapshot: MetricsSnapshot } | null = null;

  constructor(options: MonitorOptions = {}) {
    this.o = {
      driftWindow: 1000, driftMinimum: 100, labelledWindow: 5000, minLabelsPerClass: 200, latencyWindowS: 60,
      upliftWindow: 10_000, upliftMinimum: 30, effectCalibrationMinimum: 200,
      p99AlertMs: 200, aucAlert: 0.75, driftAlertP: 0.01, historyIntervalMs: 10_000, historySize: 360, ...options,
    };
    this.scores = new NumberWindow(this.o.driftWindow);
    this.fieldSources = new FieldSources(this.o.driftWindow);
    this.past = new SnapshotHistory(this.o.historyIntervalMs, this.o.historySize);
    this.latency = new LatencyTracker(this.o.latencyWindowS);
    this.inputs = new InputWindow(this.o.driftWindow);
    this.labelled = new LabelledWindow(this.o.labelledWindow);
    this.uplift = new UpliftWindow(this.o.upliftWindow);
    this.alerts = new Alerts(1000, options.alertLedger);
  }

  /** The bundle's reference distributions and the holdout share in force; called at start and after every reload. */
  setBundle(version: string, reference: Reference, holdoutFraction = 0): void {
    this.modelVersion = version;
    this.holdoutFraction = holdoutFraction;
    const sortAll = (samples: Record<string, number[]>) => new Map(Object.entries(samples).map(([k, v]) => [k, sorted(v)]));
    const numeric = sortAll(reference.numeric);
    const bins = new Map([...numeric].map(([k, v]) => [k, numericBins(v)]));
    this.reference = { numeric, bins, effects: sortAll(reference.effects), categories: reference.categories };
    this.inputs.configure(reference);
  }

  /** The outbox whose delivery states the snapshot reports. */
  watchWorkflow(status: () => WorkflowStatus): void {
    this.workflow = status;
  }

  history(): HistoryPoint[] {
    return this.past.list();
  }

  observeLatency(operation: string, ms: number): void {
    this.requests++;
    this.latency.record(operation, ms);
  }

  onPredictions(records: PredictionRecord[]): void {
    for (const r of records) this.remember(r);
  }

  onOutcomes(outcomes: LabelledOutcome[]): void {
    if (outcomes.length) this.calibrated = null;
    for (const o of outcomes) {
      this.labelled.push(o.churn_probability, o.churned);
      this.uplift.push(o);
    }
  }

  /** Rebuilds the windows from logged predictions and outcomes after a restart (oldest first). */
  replay(records: PredictionRecord[], outcomes: LabelledOutcome[]): void {
    this.onPredictions(records);
    this.onOutcomes(outcomes);
  }

  alertsSince(lastId?: string): AlertEvent[] {
    return this.alerts.since(lastId);
  }

  onAlert(listener: (e: AlertEvent) => void): () => void {
    return this.alerts.subscribe(listener);
  }

  private remember(r: PredictionRecord): void {
    this.inputs.push(r.inputs, r.imputed_features);
    this.scores.push(r.churn_probability);
    this.fieldSources.push(r);
    this.interventions.add(r);
    if (r.effects) {
      for (const arm in r.effects) {
        let window = this.effects.get(arm);
        if (!window) this.effects.set(arm, (window = new NumberWindow(this.o.driftWindow)));
        window.push(r.effects[arm].effect);
      }
    }
  }

  /** Calibration over the labelled window: computed again only after outcomes came (AUC sorts the window). */
  private calibration(): MetricsSnapshot["calibration"] {
    this.calibrated ??= this.calibrate();
    return this.calibrated;
  }

  private calibrate(): MetricsSnapshot["calibration"] {
    const labels = this.labelled.labels();
    const scores = this.labelled.scores();
    const positives = labels.reduce((s, y) => s + y, 0);
    const n = labels.length;
    const enough = positives >= this.o.minLabelsPerClass && n - positives >= this.o.minLabelsPerClass;
    const table = reliability(labels, scores);
    return {
      status: enough ? "ok" : "insufficient data",
      labelled: n,
      positives,
      auc: enough ? auc(labels, scores) : null,
      brier: n ? brier(labels, scores) : null,
      ece: n ? ece(table) : null,
      reliability: table,
    };
  }

  /** Each input's drift test, and its reference vs live histogram from the same live values. */
  private featureDrift(): { drift: MetricsSnapshot["feature_drift"]; histograms: FeatureHistogram[] } {
    const ref = this.reference;
    if (!ref) return { drift: [], histograms: [] };
    const drift: MetricsSnapshot["feature_drift"] = [];
    const histograms: FeatureHistogram[] = [];
    for (const [feature, sample] of ref.numeric) {
      const values = this.inputs.sortedNumbers(feature);
      // The asymptotic Kolmogorov distribution: cheap enough to recompute every second.
      const r = values.length >= this.o.driftMinimum && sample.length > 0 ? ks2sampSorted(values, sample, "asymp") : null;
      const drifted = r !== null && r.pValue < this.o.driftAlertP;
      drift.push({ feature, test: "ks", statistic: r?.statistic ?? null, p_value: r?.pValue ?? null, window: values.length, drifted });
      histograms.push(numericHistogram(feature, ref.bins.get(feature)!, values, drifted));
    }
    for (const [feature, counts] of Object.entries(ref.categories)) {
      const liveCounts = this.inputs.counts(feature);
      const n = liveCounts.reduce((s, c) => s + c, 0);
      const r = n >= this.o.driftMinimum ? chi2Contingency(Object.values(counts), liveCounts) : null;
      const drifted = r !== null && r.pValue < this.o.driftAlertP;
      drift.push({ feature, test: "chi2", statistic: r?.statistic ?? null, p_value: r?.pValue ?? null, window: n, drifted });
      histograms.push(categoricalHistogram(feature, counts, liveCounts, drifted));
    }
    return { drift, histograms };
  }

  private workflowSummary(now: number): WorkflowSummary | null {
    if (!this.workflow) return null;
    const { url, oldest_pending_at, ...counts } = this.workflow();
    return { url_configured: url !== null, ...counts, oldest_pending_s: oldest_pending_at === null ? null : Math.max(0, (now - oldest_pending_at) / 1000) };
  }

  private effectDrift(): MetricsSnapshot["effect_drift"] {
    if (!this.reference) return [];
    return [...this.reference.effects].map(([intervention, sample]) => {
      const live = this.effects.get(intervention)?.values() ?? new Float64Array(0);
      const enough = live.length >= this.o.driftMinimum && sample.length > 0;
      const r = enough ? ks2sampSorted(sorted(live), sample, "asymp") : null;
      const mean = (xs: Float64Array) => xs.reduce((s, x) => s + x, 0) / xs.length;
      return {
        intervention, statistic: r?.statistic ?? null, p_value: r?.pValue ?? null,
        mean_shift: enough ? mean(live) - mean(sample) : null, window: live.length, drifted: r !== null && r.pValue < this.o.driftAlertP,
      };
    });
  }

  /** The full snapshot; evaluating it also moves the alerts. */
  snapshot(now = Date.now()): MetricsSnapshot {
    const latency = this.latency.snapshot(now);
    for (const op of ["predict", "batchPredict"]) latency[op] ??= { ...EMPTY_LATENCY, since_start: EMPTY_LATENCY };
    const windowRequests = Object.values(latency).reduce((s, l) => s + l.count, 0);
    const calibration = this.calibration();
    const { drift: feature_drift, histograms: feature_histograms } = this.featureDrift();
    const effect_drift = this.effectDrift();
    const uplift = this.uplift.summary(this.holdoutFraction, this.o.upliftMinimum);

    for (const [op, l] of Object.entries(latency)) {
      this.alerts.set("latency", this.o.replica ? `${op}@${this.o.replica}` : op, l.p99_ms !== null && l.p99_ms > this.o.p99AlertMs, l.p99_ms ?? 0, this.o.p99AlertMs, now);
    }
    this.alerts.set("auc", "churn_model", calibration.auc !== null && calibration.auc < this.o.aucAlert, calibration.auc ?? 0, this.o.aucAlert, now);
    for (const d of feature_drift) this.alerts.set("feature_drift", d.feature, d.drifted, d.p_value ?? 1, this.o.driftAlertP, now);
    for (const d of effect_drift) this.alerts.set("effect_drift", d.intervention, d.drifted, d.p_value ?? 1, this.o.driftAlertP, now);
    // The realized interval excludes the forest's predicted reduction for the same customers.
    for (const [subject, e] of [["overall", uplift.overall] as const, ...uplift.by_intervention.map((e) => [e.intervention, e] as const)]) {
      const judged = e.labelled_treated >= this.o.effectCalibrationMinimum && e.labelled_holdout >= this.o.effectCalibrationMinimum && e.predicted_reduction !== null;
      const off = judged && (e.predicted_reduction! < e.ci_lower! || e.predicted_reduction! > e.ci_upper!);
      this.alerts.set("effect_calibration", subject, off, e.uplift ?? 0, e.predicted_reduction ?? 0, now);
    }

    const uptime = (now - this.started) / 1000;
    const snapshot: MetricsSnapshot = {
      at: new Date(now).toISOString(),
      replica: this.o.replica ?? null,
      uptime_s: uptime,
      model_version: this.modelVersion,
      requests_total: this.requests,
      throughput_rps: windowRequests > 0 ? windowRequests / Math.min(this.o.latencyWindowS, Math.max(1, uptime)) : null,
      latency,
      calibration,
      feature_drift,
      effect_drift,
      alerts: this.alerts.list(),
      scores: scoreHistogram(this.scores.values()),
      interventions: this.interventions.summary(),
      workflow: this.workflowSummary(now),
      inputs: this.fieldSources.rates(),
      feature_histograms,
      uplift,
    };
    this.past.offer(snapshot, now);
    this.latest = { at: now, snapshot };
    return snapshot;
  }

  /**
   * The latest evaluation if it is younger than `maxAgeMs`, else a new one: metrics subscribers
   * share the server's once-a-second evaluation instead of each blocking the event loop for a
   * snapshot of its own (~1.6 ms).
   */
  recent(maxAgeMs: number, now = Date.now()): MetricsSnapshot {
    return this.latest !== null && now - this.latest.at < maxAgeMs ? this.latest.snapshot : this.snapshot(now);
  }
}
