// What happens after a prediction has been answered: the durable log, the monitoring windows
// and the intervention workflow all receive the same record, in one direction only
// (request -> features -> WASM core -> decision -> response -> log/metrics).
import type { FeatureValue } from "./schemas.ts";
import type { z } from "zod";

export interface EffectEstimate {
  /** EconML effect of the intervention vs the control (negative = less churn). */
  effect: number;
  lower: number;
  upper: number;
}

export interface PredictionRecord {
  prediction_id: string;
  /** Milliseconds since the epoch. */
  at: number;
  operation: "predict" | "batchPredict";
  customer_id: string;
  model_version: string;
  /** The raw feature values the models saw, after store lookup and imputation. */
  inputs: Record<string, z.infer<typeof FeatureValue>>;
  imputed_features: string[];
  churn_probability: number;
  /** Per intervention; null when the forest was not evaluated (below the churn gate). */
  effects: Record<string, EffectEstimate> | null;
  recommended_intervention: string | null;
  should_intervene: boolean;
  predicted_churn_reduction: number | null;
  cost: number | null;
  expected_value: number | null;
  latency_ms: number;
}

export interface PredictionObserver {
  /** Called once per answered request (a batch delivers all its records in one call). */
  onPredictions(records: PredictionRecord[]): void;
}
