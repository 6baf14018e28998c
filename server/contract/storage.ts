// What the service needs from storage, as interfaces: the durable embedded store stands behind
// them today; a server database can stand behind the same ones.
import type { FeatureValue } from "./api.ts";
import type { JoinedPrediction, LabelledOutcome, PredictionObserver, PredictionRecord } from "./records.ts";

/** Where features come from when a request omits them (e.g. a warehouse export, CUSTOMERS_FILE). */
export interface CustomerStore {
  get(customerId: string): Record<string, FeatureValue> | undefined;
}

/** When each intervention was last triggered for a customer (ms since the epoch): cooldowns. */
export interface InterventionHistory {
  lastTriggered(customerId: string, intervention: string): number | undefined;
  record(customerId: string, intervention: string, at: number): void;
}

/**
 * The durable prediction log: every answered prediction (as an observer) and every joined
 * outcome. A record counts as logged once `durableSeq` has passed it (written and synced).
 */
export interface PredictionLog extends PredictionObserver, InterventionHistory {
  readonly durableSeq: number;
  readonly appendedSeq: number;
  /**
   * Why the log cannot write now (a full disk, an I/O error), while it cannot; null when it can.
   * The service refuses work it would have to log meanwhile; the log retries by itself.
   */
  readonly writeError: Error | null;
  /** Resolves once everything appended so far is durable. */
  flushed(): Promise<void>;
  /**
   * The logged prediction an outcome refers to, while retained: by id, else the customer's latest
   * if made within the log's outcome window. `labelled`: an outcome has already joined it.
   */
  find(outcome: { prediction_id?: string; customer_id?: string }): (JoinedPrediction & { labelled: boolean }) | undefined;
  /** The newest predictions and outcomes found at open, oldest first: to rebuild monitoring windows. */
  recent(): { predictions: PredictionRecord[]; outcomes: LabelledOutcome[] };
  close(): Promise<void>;
}

/** Where the intervention workflow's entries stand: what the outbox reports and the monitor shows. */
export interface WorkflowStatus {
  url: string | null;
  pending: number;
  retrying: number;
  delivered: number;
  dead: number;
  /** Recorded without a URL to deliver to. */
  recorded: number;
  /** When the oldest undelivered entry was made (ms since the epoch); null with none. */
  oldest_pending_at: number | null;
}
