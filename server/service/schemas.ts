// The API contract (DESIGN section 3), one zod schema per message. tRPC procedures, REST routes
// and the OpenAPI document are all derived from these; nothing is copied by hand.
import { z } from "zod";

export const Policy = z.enum(["max_reduction", "max_value"]);

export const PredictOptions = z
  .object({
    threshold: z.number().min(0).max(1).optional(),
    confidence_level: z.number().gt(0).lt(1).optional(),
    policy: Policy.optional(),
    max_cost: z.number().min(0).optional(),
    include_alternatives: z.boolean().optional(),
    require_significance: z.boolean().optional(),
    /** Score and decide without acting: no log line, cooldown or workflow entry, nothing in the monitoring windows. */
    dry_run: z.boolean().optional(),
  })
  .strict();
export type PredictOptions = z.infer<typeof PredictOptions>;

/** A raw feature value as a caller may send it; `null` means "known to be missing". */
export const FeatureValue = z.union([z.number(), z.string(), z.boolean(), z.null()]);

/**
 * One customer. Feature fields sit flat beside `customer_id`; which names, types and ranges are
 * allowed is the model bundle's manifest, checked by the service (every problem by field path).
 */
export type PredictRequest = {
  customer_id: string;
  options?: PredictOptions;
  [field: string]: z.infer<typeof FeatureValue> | PredictOptions | undefined;
};
// The type is written out because zod infers `{ options?: … } & { [field]: FeatureValue }`, which
// no object literal with `options` satisfies: typed callers could not pass options at all.
export const PredictRequest = z
  .object({
    customer_id: z.string().min(1).max(256),
    options: PredictOptions.optional(),
  })
  .catchall(FeatureValue) as unknown as z.ZodType<PredictRequest>;

export const Alternative = z.object({
  intervention: z.string(),
  churn_reduction: z.number(),
  ci_lower: z.number(),
  ci_upper: z.number(),
  cost: z.number(),
  expected_value: z.number(),
  eligible: z.boolean(),
  reason: z.string().nullable(),
});
export type Alternative = z.infer<typeof Alternative>;

export const RiskLevel = z.enum(["LOW", "MEDIUM", "HIGH"]);

export const PredictResponse = z.object({
  prediction_id: z.string(),
  customer_id: z.string(),
  model_version: z.string(),
  churn_probability: z.number(),
  risk_level: RiskLevel,
  recommended_intervention: z.string().nullable(),
  predicted_churn_reduction: z.number().nullable(),
  confidence_interval: z.tuple([z.number(), z.number()]).nullable(),
  should_intervene: z.boolean(),
  /** Cost of the recommended intervention. */
  cost: z.number().nullable(),
  expected_value: z.number().nullable(),
  alternatives: z.array(Alternative),
  imputed_features: z.array(z.string()),
  /** Category values outside the manifest's list, mapped to the all-zero one-hot. */
  unknown_categories: z.array(z.object({ field: z.string(), value: z.string() })),
  latency_ms: z.number(),
});
export type PredictResponse = z.infer<typeof PredictResponse>;

export const BatchPredictRequest = z
  .object({
    customers: z.array(PredictRequest),
    budget: z.number().min(0).optional(),
    options: PredictOptions.optional(),
  })
  .strict();
export type BatchPredictRequest = z.infer<typeof BatchPredictRequest>;

export const BatchSummary = z.object({
  count: z.number().int(),
  intervene: z.number().int(),
  total_cost: z.number(),
  expected_churn_prevented: z.number(),
  expected_value: z.number(),
});

export const BatchPredictResponse = z.object({
  results: z.array(PredictResponse),
  summary: BatchSummary,
});
export type BatchPredictResponse = z.infer<typeof BatchPredictResponse>;

export const HealthResponse = z.object({
  status: z.enum(["ok", "starting", "degraded"]),
  live: z.boolean(),
  ready: z.boolean(),
  model_version: z.string().nullable(),
  bundle: z
    .object({
      name: z.string(),
      version: z.string(),
      loaded_at: z.string(),
      /** The feature fields a request may carry beside customer_id. */
      fields: z.array(z.string()),
      interventions: z.array(z.string()),
    })
    .nullable(),
  uptime_s: z.number(),
  runtime: z.string(),
});
export type HealthResponse = z.infer<typeof HealthResponse>;

export const Outcome = z
  .object({
    prediction_id: z.string().min(1).optional(),
    customer_id: z.string().min(1).optional(),
    churned: z.union([z.boolean(), z.literal(0), z.literal(1)]),
  })
  .strict()
  .refine((o) => o.prediction_id !== undefined || o.customer_id !== undefined, {
    message: "give prediction_id, or customer_id for the customer's latest prediction",
    path: ["prediction_id"],
  });

/** One observed outcome, or many under `outcomes`. */
export const OutcomeRequest = z.union([Outcome, z.object({ outcomes: z.array(Outcome).min(1).max(10_000) }).strict()]);
export type OutcomeRequest = z.infer<typeof OutcomeRequest>;

export const OutcomeResponse = z.object({
  matched: z.array(z.object({ index: z.number().int(), prediction_id: z.string(), churn_probability: z.number() })),
  /** Outcomes with no prediction to join (unknown id, or none logged for the customer). */
  unmatched: z.array(z.object({ index: z.number().int(), reason: z.string() })),
});
export type OutcomeResponse = z.infer<typeof OutcomeResponse>;

/** A problem with a request, by field path (as zod reports them). */
export interface FieldIssue {
  path: (string | number)[];
  message: string;
}

/**
 * Anything a client sent that the service refuses: 400 (BAD_REQUEST) with every problem listed,
 * 413 (PAYLOAD_TOO_LARGE) when a limit is exceeded, 415 for a body that is not JSON. Never a 500.
 */
export class RequestError extends Error {
  constructor(
    message: string,
    readonly issues: FieldIssue[] = [],
    readonly status: 400 | 413 | 415 = 400,
  ) {
    super(message);
    this.name = "RequestError";
  }
}
