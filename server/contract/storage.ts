// What the service needs from storage, as interfaces. Two stores stand behind them: the embedded
// one (files in DATA_DIR, one process) and PostgreSQL (DATABASE_URL, any number of replicas).
import type { JoinedPrediction, LabelledOutcome, PredictionObserver, PredictionRecord } from "./records.ts";

/** What the workflow webhook receives for an intervention (its Idempotency-Key is the prediction id). */
export interface WorkflowPayload {
  prediction_id: string;
  customer_id: string;
  intervention: string;
  cost: number | null;
  expected_value: number | null;
  churn_probability: number;
  predicted_churn_reduction: number | null;
  model_version: string;
  at: string;
}

/** The payload of an intervention's prediction: one shape whichever store holds it. */
export function workflowPayload(
  r: Pick<PredictionRecord, "prediction_id" | "customer_id" | "recommended_intervention" | "cost" | "expected_value" | "churn_probability" | "predicted_churn_reduction" | "model_version" | "at">,
): WorkflowPayload {
  return {
    prediction_id: r.prediction_id, customer_id: r.customer_id, intervention: r.recommended_intervention!, cost: r.cost,
    expected_value: r.expected_value, churn_probability: r.churn_probability, predicted_churn_reduction: r.predicted_churn_reduction,
    model_version: r.model_version, at: new Date(r.at).toISOString(),
  };
}

/** An intervention about to be recommended: it starts only if not in cooldown by then. */
export interface InterventionStart {
  customer_id: string;
  intervention: string;
  /** The decision's instant, ms since the epoch. */
  at: number;
  /** The intervention's cooldown: a start at or after `at - cooldown_ms` keeps this one from starting. */
  cooldown_ms: number;
  /** Its workflow entry: a store that can makes it in the same commit as the start (else the prediction's log commit does). */
  workflow: WorkflowPayload;
}

/** Cooldowns: when each intervention was last started for a customer, and starting one. */
export interface InterventionHistory {
  /** Each of these customers' last start of each intervention (ms since the epoch); absent: never. */
  lastTriggered(customerIds: readonly string[]): Promise<Map<string, Record<string, number>>>;
  /**
   * Starts each intervention unless it is in cooldown (started since `at - cooldown_ms`),
   * atomically: of two replicas starting one for a customer at once, one succeeds. Resolves with
   * which started. Within a call a customer's intervention appears at most once.
   */
  start(starts: InterventionStart[]): Promise<boolean[]>;
}

/** An observed outcome as the service hands it to the log to join. */
export interface OutcomeKey {
  prediction_id?: string;
  customer_id?: string;
}

/**
 * The durable prediction log: every answered prediction (as an observer) and every joined
 * outcome. A prediction counts as logged once `durableSeq` has passed it (committed), shortly
 * after its answer; an outcome once `label` has resolved.
 */
export interface PredictionLog extends PredictionObserver {
  readonly durableSeq: number;
  readonly appendedSeq: number;
  /**
   * Why the log cannot write now (a full disk, an I/O error, the database unreachable), while it
   * cannot; null when it can. The service refuses work it would have to log meanwhile; the log
   * retries by itself.
   */
  readonly writeError: Error | null;
  /** Resolves once everything appended so far is durable. */
  flushed(): Promise<void>;
  /**
   * The logged prediction each outcome refers to, while retained: by id, else the customer's
   * latest if made within the log's outcome window. `labelled`: an outcome has already joined it.
   */
  join(outcomes: OutcomeKey[]): Promise<((JoinedPrediction & { labelled: boolean }) | undefined)[]>;
  /**
   * Records joined outcomes, at most one per prediction across every replica: resolves with
   * whether each was the first for its prediction (recorded) or not (a conflict, recorded nowhere).
   */
  label(outcomes: LabelledOutcome[]): Promise<boolean[]>;
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
