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
  kind: "latency" | "auc" | "feature_drift" | "effect_drift";
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
}

/** What the subscriptions read: snapshots and alert transitions. */
export interface MonitoringFeed {
  /** A new evaluation (it also moves the alerts). */
  snapshot(): MetricsSnapshot;
  /** The latest evaluation if younger than `maxAgeMs`, else a new one. */
  recent(maxAgeMs: number): MetricsSnapshot;
  /** Kept alert events after `lastId` (all kept ones without it). */
  alertsSince(lastId?: string): AlertEvent[];
  /** Calls `listener` with every new alert event; returns the unsubscribe function. */
  onAlert(listener: (e: AlertEvent) => void): () => void;
}
