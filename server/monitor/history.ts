// The server's bounded history of evaluations (by default the last hour at 10 s), which a console
// receives when it subscribes so that its charts do not start empty.
import type { HistoryPoint, MetricsSnapshot } from "../contract/monitoring.ts";

export class SnapshotHistory {
  private readonly points: HistoryPoint[] = [];
  private last = -Infinity;

  constructor(private readonly intervalMs: number, private readonly size: number) {}

  /** Keeps a point of `s` if `intervalMs` has passed since the last one kept. */
  offer(s: MetricsSnapshot, now: number): void {
    if (now - this.last < this.intervalMs) return;
    this.last = now;
    const latency: HistoryPoint["latency"] = {};
    for (const [op, l] of Object.entries(s.latency)) latency[op] = { p50_ms: l.p50_ms, p95_ms: l.p95_ms, p99_ms: l.p99_ms };
    this.points.push({
      at: s.at,
      requests_total: s.requests_total,
      throughput_rps: s.throughput_rps,
      latency,
      auc: s.calibration.auc,
      ece: s.calibration.ece,
      labelled: s.calibration.labelled,
      drifted_features: s.feature_drift.filter((d) => d.drifted).map((d) => d.feature),
      alerts: s.alerts.length,
      interventions: s.interventions.count,
      spend: s.interventions.spend,
      workflow_pending: s.workflow?.pending ?? null,
      workflow_dead: s.workflow?.dead ?? null,
    });
    if (this.points.length > this.size) this.points.shift();
  }

  list(): HistoryPoint[] {
    return this.points.slice();
  }
}
