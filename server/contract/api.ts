// The API contract (DESIGN section 3), one zod schema per message. tRPC procedures, REST routes,
// the OpenAPI document and the typed client are all derived from these; nothing is copied by hand.
import { z } from "zod";

export const Policy = z.enum(["max_reduction", "max_value"]);
export type Policy = z.infer<typeof Policy>;

/**
 * Who may get an intervention: "risk", customers above the churn threshold (the default);
 * "value", any customer whose best option has a positive expected value, whatever the risk.
 */
export const Gate = z.enum(["risk", "value"]);
export type Gate = z.infer<typeof Gate>;

export const RiskLevel = z.enum(["LOW", "MEDIUM", "HIGH"]);
export type RiskLevel = z.infer<typeof RiskLevel>;

/** 1 - confidence level is the alpha the forest's intervals take: in (0, 1) in floating point too. */
export const ConfidenceLevel = z
  .number()
  .gt(0)
  .lt(1)
  .refine((c) => 1 - c > 0 && 1 - c < 1, "too close to 0 or 1: 1 - confidence_level must be in (0, 1)");

export const PredictOptions = z
  .object({
    threshold: z.number().min(0).max(1).optional(),
    confidence_level: ConfidenceLevel.optional(),
    policy: Policy.optional(),
    gate: Gate.optional(),
    max_cost: z.number().min(0).optional(),
    include_alternatives: z.boolean().optional(),
    require_significance: z.boolean().optional(),
    /** Score and decide without acting: no log line, cooldown or workflow entry, nothing in the monitoring windows. */
    dry_run: z.boolean().optional(),
    /** The instant the customer's profile is derived at (ISO 8601 with a zone); the server clock by default. */
    as_of: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();
export type PredictOptions = z.infer<typeof PredictOptions>;

/** A raw feature value as a caller may send it; `null` means "known to be missing". */
export const FeatureValue = z.union([z.number(), z.string(), z.boolean(), z.null()]);
export type FeatureValue = z.infer<typeof FeatureValue>;

const number = z.number().nullable().optional();
const flag = z.union([z.boolean(), z.literal(0), z.literal(1)]).nullable().optional();

/**
 * The default bundle's fields (models/manifest.json), for TypeScript callers: numbers as numbers,
 * categories as their values. test/contract.test.ts holds this list to the manifest. Other
 * bundles' fields stay possible through the index signature of `CustomerRequest`; the service
 * validates fields against whichever bundle it serves.
 */
export const DefaultBundleFields = z.object({
  tenure: number,
  monthly_charges: number,
  total_charges: number,
  paperless_billing: flag,
  senior_citizen: flag,
  num_services: number,
  logins_30d: number,
  usage_change_30d: number,
  support_tickets_30d: number,
  days_since_last_login: number,
  late_payments_90d: number,
  contract_type: z.enum(["Month-to-month", "One year", "Two year"]).nullable().optional(),
  internet_service: z.enum(["DSL", "Fiber optic", "No"]).nullable().optional(),
  /** Unknown methods map to the all-zero one-hot (reported in `unknown_categories`). */
  payment_method: z.string().nullable().optional(),
});
export type DefaultBundleFields = z.infer<typeof DefaultBundleFields>;

/**
 * One customer, for any bundle. Feature fields sit flat beside `customer_id`; which names, types
 * and ranges are allowed is the bundle's manifest, checked by the service (every problem by field
 * path). The service takes this; typed callers get `PredictRequest`, which also knows the default
 * bundle's fields.
 */
export type CustomerRequest = {
  customer_id: string;
  options?: PredictOptions;
  [field: string]: FeatureValue | PredictOptions | undefined;
};
export type PredictRequest = DefaultBundleFields & CustomerRequest;
// zod infers `{ options?: … } & { [field]: FeatureValue }`, which no object literal with `options`
// satisfies; the declared input type is what tRPC hands typed callers.
export const PredictRequest = z.preprocess(
  (value, ctx) => {
    // JSON.parse makes "__proto__" an own key; zod's object parsing would drop it silently.
    if (typeof value === "object" && value !== null && Object.hasOwn(value, "__proto__")) {
      ctx.addIssue({ code: "custom", message: "unknown field", path: ["__proto__"], input: value });
    }
    return value;
  },
  z.object({ customer_id: z.string().min(1).max(256), options: PredictOptions.optional() }).catchall(FeatureValue),
) as unknown as z.ZodType<PredictRequest, PredictRequest>;

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
  /**
   * In the holdout group (DESIGN section 10): no intervention whatever the model says, so that
   * realized uplift can be measured; the recommendation it would have had is logged, not returned.
   */
  holdout: z.boolean(),
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

export type BatchPredictRequest = { customers: PredictRequest[]; budget?: number; options?: PredictOptions };
/** A batch for any bundle, as the service takes it. */
export type CustomerBatch = { customers: CustomerRequest[]; budget?: number; options?: PredictOptions };
export const BatchPredictRequest = z
  .object({
    customers: z.array(PredictRequest),
    budget: z.number().min(0).optional(),
    options: PredictOptions.optional(),
  })
  .strict() as unknown as z.ZodType<BatchPredictRequest, BatchPredictRequest>;

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

/** One option a budget plan may give a customer: an intervention as a response lists it. */
export const PlanOption = Alternative.pick({ intervention: true, churn_reduction: true, ci_lower: true, cost: true, expected_value: true, eligible: true });
export type PlanOption = z.infer<typeof PlanOption>;

/**
 * A budget over many customers (e.g. a file scored in chunks with `dry_run`): each customer's
 * options as the scoring listed them (recommendation and alternatives); the service keeps those
 * that qualify under the policy and allocates the budget over all of them.
 */
export const PlanBudgetRequest = z
  .object({
    budget: z.number().min(0),
    policy: Policy.default("max_value"),
    require_significance: z.boolean().default(false),
    customers: z.array(z.array(PlanOption)).max(1_000_000),
  })
  .strict();
export type PlanBudgetRequest = z.input<typeof PlanBudgetRequest>;

export const PlanBudgetResponse = z.object({
  /** Per customer, the planned intervention, or null. */
  picks: z.array(z.string().nullable()),
  total_cost: z.number(),
  expected_value: z.number(),
});
export type PlanBudgetResponse = z.infer<typeof PlanBudgetResponse>;

export const HealthResponse = z.object({
  status: z.enum(["ok", "starting"]),
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
  /** Which replica answered (REPLICA_ID; host name and pid by default). */
  replica: z.string(),
  /** The prediction log: `ok` false while it cannot write (then not ready, and predictions are refused with 503). */
  storage: z.object({ ok: z.boolean(), error: z.string().nullable() }).optional(),
});
export type HealthResponse = z.infer<typeof HealthResponse>;

export const OutcomeInput = z
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
export type OutcomeInput = z.infer<typeof OutcomeInput>;

/** One observed outcome, or many under `outcomes`. */
export const OutcomeRequest = z.union([OutcomeInput, z.object({ outcomes: z.array(OutcomeInput).min(1).max(10_000) }).strict()]);
export type OutcomeRequest = z.infer<typeof OutcomeRequest>;

export const OutcomeResponse = z.object({
  matched: z.array(z.object({ index: z.number().int(), prediction_id: z.string(), churn_probability: z.number() })),
  /** Outcomes with no prediction to join (unknown id, or none logged for the customer within the outcome window). */
  unmatched: z.array(z.object({ index: z.number().int(), reason: z.string() })),
  /** Outcomes for a prediction that already has one (earlier, or earlier in this call): not counted. */
  conflicts: z.array(z.object({ index: z.number().int(), prediction_id: z.string(), reason: z.string() })),
});
export type OutcomeResponse = z.infer<typeof OutcomeResponse>;

/** Where a field of a customer's profile came from. */
export const FieldSource = z.enum(["request", "events", "store", "imputed"]);
export type FieldSource = z.infer<typeof FieldSource>;

export const CustomerQuery = z
  .object({ customer_id: z.string().min(1).max(256), as_of: z.iso.datetime({ offset: true }).optional() })
  .strict();
export type CustomerQuery = z.infer<typeof CustomerQuery>;

/** A customer's profile as the model would see it at `as_of`: each field's value and source. */
export const CustomerProfile = z.object({
  customer_id: z.string(),
  as_of: z.string(),
  model_version: z.string(),
  fields: z.record(z.string(), z.object({ value: FeatureValue, source: FieldSource })),
  /** Category values outside the manifest's list, mapped to the all-zero one-hot. */
  unknown_categories: z.array(z.object({ field: z.string(), value: z.string() })),
});
export type CustomerProfile = z.infer<typeof CustomerProfile>;

export const IngestResponse = z.object({
  results: z.array(z.object({ event_id: z.string(), status: z.enum(["applied", "duplicate"]) })),
  /** The predictions that triggering events made, in the order of the events. */
  predictions: z.array(PredictResponse),
});
export type IngestResponse = z.infer<typeof IngestResponse>;

/** Rows of an existing customer table: each `{ customer_id, ...fields }` as a predict request carries them. */
export const CustomerImportRequest = z
  .object({ rows: z.array(z.object({ customer_id: z.string().min(1).max(256) }).catchall(FeatureValue)).min(1).max(10_000) })
  .strict();
export type CustomerImportRequest = z.infer<typeof CustomerImportRequest>;

export const CustomerImportResponse = z.object({
  imported: z.number().int(),
  /** Rows refused whole (nothing of them applied), by their index in `rows`, with every problem. */
  rejected: z.array(z.object({ index: z.number().int(), issues: z.array(z.object({ path: z.array(z.union([z.string(), z.number()])), message: z.string() })) })),
});
export type CustomerImportResponse = z.infer<typeof CustomerImportResponse>;
