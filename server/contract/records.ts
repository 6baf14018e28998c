// What happens after a prediction has been answered: the durable log, the monitoring windows
// and the intervention workflow all receive the same records, in one direction only
// (request -> features -> WASM core -> decision -> response -> log/metrics).
import type { FeatureValue } from "./api.ts";

/** An intervention's effect vs no intervention, EconML's sign (negative = less churn), with its interval. */
export interface ArmEffect {
  effect: number;
  lower: number;
  upper: number;
}

/** Each intervention's effect, by name (the forest's arms). */
export type Effects = Record<string, ArmEffect>;

export interface PredictionRecord {
  prediction_id: string;
  /** Milliseconds since the epoch. */
  at: number;
  operation: "predict" | "batchPredict";
  customer_id: string;
  model_version: string;
  /** The raw feature values the models saw, after store lookup and imputation. */
  inputs: Record<string, FeatureValue>;
  imputed_features: string[];
  churn_probability: number;
  /** Per intervention; null when the forest was not evaluated (below the churn gate). */
  effects: Effects | null;
  /** With `holdout`, the recommendation the customer would have had (and its reduction, cost and value). */
  recommended_intervention: string | null;
  should_intervene: boolean;
  /**
   * In the holdout group: should_intervene is false whatever the model says, and the recommended
   * fields say what it would have been (DESIGN section 10). Absent in logs written before holdout.
   */
  holdout?: boolean;
  predicted_churn_reduction: number | null;
  cost: number | null;
  expected_value: number | null;
  /** What a prevented churn is worth for this customer (value field x horizon), as expected_value counts it. */
  customer_value?: number;
  latency_ms: number;
}

/** A prediction's part in the holdout experiment: treated, or held out of the intervention it would have had. */
export interface ExperimentArm {
  group: "treated" | "holdout";
  intervention: string;
  /** The forest's predicted reduction of churn probability for that intervention. */
  predicted_reduction: number;
  customer_value: number;
  cost: number;
}

/** What an outcome needs of the prediction it joins. */
export interface JoinedPrediction {
  prediction_id: string;
  churn_probability: number;
  /** Treated or held out (realized uplift counts it); absent for a prediction with no recommendation. */
  experiment?: ExperimentArm;
}

/** Where a record's field value came from (numbers: the monitor keeps one byte per request and field). */
export const FIELD_SENT = 0;
export const FIELD_IMPUTED = 1;
export const FIELD_UNKNOWN = 2;

/**
 * Sent (or stored), imputed, or an unknown category: the pipeline maps a category the model does
 * not know to null without listing it as imputed.
 */
export function fieldSource(r: PredictionRecord, field: string): typeof FIELD_SENT | typeof FIELD_IMPUTED | typeof FIELD_UNKNOWN {
  return r.imputed_features.includes(field) ? FIELD_IMPUTED : r.inputs[field] === null ? FIELD_UNKNOWN : FIELD_SENT;
}

/** An observed outcome joined to its prediction: what the log keeps and the monitor counts. */
export interface LabelledOutcome extends JoinedPrediction {
  churned: boolean;
  /** When it was recorded, ms since the epoch. */
  at: number;
}

export interface PredictionObserver {
  /** Called once per answered request (a batch delivers all its records in one call). */
  onPredictions(records: PredictionRecord[]): void;
  /** Called with the outcomes of one call that joined a prediction. */
  onOutcomes?(outcomes: LabelledOutcome[]): void;
  /** Called once per ingest call with how many events were applied, duplicates, or refused (a refused call applies none). */
  onEvents?(counts: { applied: number; duplicate: number; refused: number }): void;
}
