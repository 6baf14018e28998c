// The monitoring contract (DESIGN section 5): the snapshot consoles subscribe to, alert events,
// and what the API needs of the monitor to stream them.

export interface LatencySummary {
  count: number;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
}

export interface ReliabilityBin {
  bin: number;
  mean_predicted: number | null;
  observed_rate: number | null;
  count: number;
}

export interface AlertEvent {
  id: string;
  kind: "latency" | "auc" | "feature_drift" | "effect_drift" | "effect_calibration";
  subject: string;
  value: number;
  threshold: number;
  state: "firing" | "resolved";
  at: string;
}

export interface ActiveAlert extends Omit<AlertEvent, "at"> {
  since: string;
}

export interface MetricsSnapshot {
  at: string;
  /**
   * Among several replicas: the one that answered. Latency, throughput and requests are its own;
   * calibration, drift, uplift, interventions, workflow and alerts are the fleet's.
   */
  replica: string | null;
  uptime_s: number;
  model_version: string | null;
  requests_total: number;
  throughput_rps: number | null;
  latency: Record<string, LatencySummary & { since_start: LatencySummary }>;
  calibration: {
    status: "ok" | "insufficient data";
    labelled: number;
    positives: number;
    auc: number | null;
    brier: number | null;
    ece: number | null;
    reliability: ReliabilityBin[];
  };
  feature_drift: { feature: string; test: "ks" | "chi2"; statistic: number | null; p_value: number | null; window: number; drifted: boolean }[];
  effect_drift: { intervention: string; statistic: number | null; p_value: number | null; mean_shift: number | null; window: number; drifted: boolean }[];
  alerts: ActiveAlert[];
  // Added for the console (issue 16); consoles that do not know them ignore them.
  /** Churn probabilities of the live window in 20 equal-width bins on [0, 1]. */
  scores: { window: number; bins: { lower: number; upper: number; count: number }[] };
  /** Recommendations to intervene since start (or since the oldest retained log record after a restart). */
  interventions: { count: number; spend: number; by_intervention: { intervention: string; count: number; spend: number; expected_value: number }[] };
  /** The intervention workflow's outbox; null where the monitor is not given one. */
  workflow: WorkflowSummary | null;
  /** Per input field over the live window: shares imputed and (categorical) unknown; null with no requests. */
  inputs: { feature: string; window: number; imputed_rate: number | null; unknown_rate: number | null }[];
  /** Reference vs live distribution of each input (shares per bin or category), for drift plots. */
  feature_histograms: FeatureHistogram[];
  /** The server's recent history, sent with the first snapshot of a subscription (oldest first). */
  history?: HistoryPoint[];
  /** Holdout and realized uplift (DESIGN section 10). */
  uplift: UpliftSummary;
}

/**
 * Realized uplift over the labelled window: treated customers vs holdout customers who would have
 * had the same recommendation. `uplift` = churn rate of holdout - churn rate of treated, in
 * probability points, with a 95% interval (Newcombe's hybrid score interval); `predicted_reduction`
 * is the forest's mean for the same customers (both groups). Null where there are too few labels.
 */
export interface UpliftSummary {
  /** The configured share held out (null before a bundle is loaded). */
  holdout_fraction: number | null;
  labelled_treated: number;
  labelled_holdout: number;
  overall: UpliftEstimate;
  by_intervention: ({ intervention: string; labelled: number } & UpliftEstimate)[];
  /** Realized value of the policy per customer it acts on: prevented churn x customer value - cost (normal interval). */
  policy_value: { per_customer: number | null; ci_lower: number | null; ci_upper: number | null };
  /**
   * Uplift (Qini) curve of the forest's ranking: customers by predicted reduction, highest first;
   * at each share of them, churns prevented among the treated of that share (holdout churn rate
   * scaled to the treated count, minus treated churns), per labelled customer. Empty with too few labels.
   */
  qini: { fraction: number; prevented: number }[];
}

export interface UpliftEstimate {
  labelled_treated: number;
  labelled_holdout: number;
  churn_treated: number | null;
  churn_holdout: number | null;
  uplift: number | null;
  ci_lower: number | null;
  ci_upper: number | null;
  predicted_reduction: number | null;
}

export interface WorkflowSummary {
  url_configured: boolean;
  pending: number;
  retrying: number;
  delivered: number;
  dead: number;
  recorded: number;
  /** Age of the oldest undelivered entry; null with none pending. */
  oldest_pending_s: number | null;
}

export interface FeatureHistogram {
  feature: string;
  test: "ks" | "chi2";
  drifted: boolean;
  /** Numeric: equal-width bins over the reference's range (the outer ones open-ended); categorical: one per category. */
  bins: { label: string; reference: number; live: number | null }[];
}

/** One point of the server's bounded history (e.g. the last hour at 10 s). */
export interface HistoryPoint {
  at: string;
  requests_total: number;
  throughput_rps: number | null;
  latency: Record<string, { p50_ms: number | null; p95_ms: number | null; p99_ms: number | null }>;
  auc: number | null;
  ece: number | null;
  labelled: number;
  drifted_features: string[];
  alerts: number;
  interventions: number;
  spend: number;
  workflow_pending: number | null;
  workflow_dead: number | null;
}

/** What the subscriptions read: snapshots and alert transitions. */
export interface MonitoringFeed {
  /** A new evaluation (it also moves the alerts). */
  snapshot(): MetricsSnapshot;
  /** The latest evaluation if younger than `maxAgeMs`, else a new one. */
  recent(maxAgeMs: number): MetricsSnapshot;
  /** Kept alert events after `lastId` (all kept ones without it). */
  alertsSince(lastId?: string): AlertEvent[];
  /** The bounded history of past evaluations, oldest first. */
  history(): HistoryPoint[];
  /** Calls `listener` with every new alert event; returns the unsubscribe function. */
  onAlert(listener: (e: AlertEvent) => void): () => void;
}
