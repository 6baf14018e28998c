// Fleet-wide monitoring: every replica reads the shared prediction log, outcomes and alert events
// into its own monitor, so each one's windows, calibration, drift and alerts are the fleet's.
// Rows are read in ranges of the transaction ids that wrote them, up to the oldest transaction
// still running (pg_snapshot_xmin): below it no row can still appear, so every replica sees every
// row once and in the same order. An alert transition becomes an event only for the replica whose
// update of its state changed it, so an alert fires once per fleet; all replicas then read it.
import type { AlertEvent } from "../../contract/monitoring.ts";
import type { LabelledOutcome, PredictionRecord } from "../../contract/records.ts";
import type { Database } from "./connect.ts";

/** What the feed fills: the monitor's windows and its alerts. */
export interface FleetSink {
  onPredictions(records: PredictionRecord[]): void;
  onOutcomes(outcomes: LabelledOutcome[]): void;
  onAlert(event: AlertEvent): void;
}

export interface FleetOptions {
  /** Predictions and outcomes replayed at start (the newest 10,000 each), and alert events (1,000). */
  recent?: number;
  recentAlerts?: number;
  pollMs?: number;
}

type OutcomeRow = { prediction_id: string; churned: boolean; at_ms: number; churn_probability: number; experiment: LabelledOutcome["experiment"] | null };
type AlertRow = { id: string; kind: AlertEvent["kind"]; subject: string; state: AlertEvent["state"]; value: number; threshold: number; at_ms: number };

const outcomeOf = (r: OutcomeRow): LabelledOutcome => ({
  prediction_id: r.prediction_id, churned: r.churned, at: r.at_ms, churn_probability: r.churn_probability, ...(r.experiment ? { experiment: r.experiment } : {}),
});
const alertOf = (r: AlertRow): AlertEvent => ({ id: r.id, kind: r.kind, subject: r.subject, state: r.state, value: r.value, threshold: r.threshold, at: new Date(r.at_ms).toISOString() });

export class FleetFeed {
  /** Rows with a transaction id below this have been read. */
  private cursor = "0";
  private polling = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly o: Required<FleetOptions>;

  private constructor(
    private readonly db: Database,
    private readonly sink: FleetSink,
    options: FleetOptions,
  ) {
    this.o = { recent: 10_000, recentAlerts: 1000, pollMs: 500, ...options };
  }

  /** Replays the newest rows into `sink`, then keeps it fed. */
  static async open(db: Database, sink: FleetSink, options: FleetOptions = {}): Promise<FleetFeed> {
    const feed = new FleetFeed(db, sink, options);
    await feed.replay();
    feed.timer = setInterval(() => void feed.poll(), feed.o.pollMs);
    feed.timer.unref?.();
    return feed;
  }

  private horizon(): Promise<string> {
    return this.db.run((sql) => sql<{ h: string }[]>`SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS h`).then(([r]) => r.h);
  }

  private async replay(): Promise<void> {
    const h = await this.horizon();
    const { recent, recentAlerts } = this.o;
    const [predictions, outcomes, alerts] = await this.db.run((sql) => Promise.all([
      sql<{ record: PredictionRecord }[]>`
        SELECT record FROM (SELECT record, xid, at_ms FROM predictions WHERE xid < ${h}::xid8 ORDER BY xid DESC, at_ms DESC LIMIT ${recent}) t ORDER BY xid, at_ms`,
      sql<OutcomeRow[]>`
        SELECT prediction_id::text AS prediction_id, churned, at_ms::float8 AS at_ms, churn_probability, experiment FROM
          (SELECT * FROM outcomes WHERE xid < ${h}::xid8 ORDER BY xid DESC, at_ms DESC LIMIT ${recent}) t ORDER BY xid, at_ms`,
      sql<AlertRow[]>`
        SELECT id::text AS id, kind, subject, state, value, threshold, at_ms::float8 AS at_ms FROM
          (SELECT * FROM alert_events WHERE xid < ${h}::xid8 ORDER BY id DESC LIMIT ${recentAlerts}) t ORDER BY id`,
    ]), 60_000);
    this.sink.onPredictions(predictions.map((r) => r.record));
    this.sink.onOutcomes(outcomes.map(outcomeOf));
    for (const a of alerts) this.sink.onAlert(alertOf(a));
    this.cursor = h;
  }

  /** Everything committed since the last poll: predictions and outcomes first, then the alerts they may have moved. */
  async poll(): Promise<void> {
    if (this.polling || this.db.error) return;
    this.polling = true;
    try {
      const h = await this.horizon();
      if (h === this.cursor) return;
      const from = this.cursor;
      const [predictions, outcomes, alerts] = await this.db.run((sql) => Promise.all([
        sql<{ record: PredictionRecord }[]>`
          SELECT record FROM predictions WHERE xid >= ${from}::xid8 AND xid < ${h}::xid8 ORDER BY xid, at_ms`,
        sql<OutcomeRow[]>`
          SELECT prediction_id::text AS prediction_id, churned, at_ms::float8 AS at_ms, churn_probability, experiment
          FROM outcomes WHERE xid >= ${from}::xid8 AND xid < ${h}::xid8 ORDER BY xid, at_ms`,
        sql<AlertRow[]>`
          SELECT id::text AS id, kind, subject, state, value, threshold, at_ms::float8 AS at_ms
          FROM alert_events WHERE xid >= ${from}::xid8 AND xid < ${h}::xid8 ORDER BY id`,
      ]), 30_000);
      this.sink.onPredictions(predictions.map((r) => r.record));
      this.sink.onOutcomes(outcomes.map(outcomeOf));
      for (const a of alerts) this.sink.onAlert(alertOf(a));
      this.cursor = h;
    } catch {
      // Read again at the next poll, from the same cursor: nothing is skipped while the database is away.
    } finally {
      this.polling = false;
    }
  }

  /**
   * A condition changed in this replica's evaluation: recorded as an event unless the fleet's
   * state already says so (another replica saw it first). The event reaches every monitor through
   * the feed, this one's included.
   */
  async propose(event: Omit<AlertEvent, "id">): Promise<void> {
    const key = `${event.kind}:${event.subject}`;
    await this.db.run((sql) => sql`
      WITH changed AS (
        INSERT INTO alert_state (key, state) VALUES (${key}, ${event.state})
        ON CONFLICT (key) DO UPDATE SET state = EXCLUDED.state WHERE alert_state.state <> EXCLUDED.state
        RETURNING key
      )
      INSERT INTO alert_events (kind, subject, state, value, threshold, at_ms)
      SELECT ${event.kind}, ${event.subject}, ${event.state}, ${event.value}, ${event.threshold}, ${Date.parse(event.at)} FROM changed`);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
