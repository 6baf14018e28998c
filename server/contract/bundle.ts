// The JSON files of a model bundle (DESIGN section 2), as zod schemas: each file is checked on its
// own here and against the others when the bundle loads (server/bundle/load.ts).
import { z } from "zod";
import { ConfidenceLevel, Gate, Policy } from "./api.ts";

const NumericField = z
  .object({
    type: z.enum(["number", "integer"]),
    min: z.number().optional(),
    max: z.number().optional(),
    /** "median": the training median, stored per column in scaler.json `impute`. */
    impute: z.literal("median"),
    description: z.string().optional(),
  })
  .strict();

const BooleanField = z
  .object({ type: z.literal("boolean"), impute: z.literal("median"), description: z.string().optional() })
  .strict();

const CategoryField = z
  .object({
    type: z.literal("category"),
    values: z.array(z.string().min(1)).min(1),
    /** A value (e.g. the most frequent one) or "zeros" for the all-zero one-hot. */
    impute: z.string(),
    /** A value outside `values`: a 400 ("error") or the all-zero one-hot, reported ("zeros"). */
    unknown: z.enum(["error", "zeros"]).default("error"),
    description: z.string().optional(),
  })
  .strict();

export const FieldSpec = z.discriminatedUnion("type", [NumericField, BooleanField, CategoryField]);
export type FieldSpec = z.infer<typeof FieldSpec>;

export const DecisionConfig = z
  .object({
    churn_threshold: z.number().min(0).max(1).default(0.3),
    risk_levels: z
      .object({ medium: z.number().min(0).max(1), high: z.number().min(0).max(1) })
      .strict()
      .default({ medium: 0.3, high: 0.6 }),
    confidence_level: ConfidenceLevel.default(0.95),
    policy: Policy.default("max_reduction"),
    gate: Gate.default("risk"),
    require_significance: z.boolean().default(false),
    /** Customer value = this field's value x `value_horizon_months` (a numeric field of the manifest). */
    value_field: z.string().default("monthly_charges"),
    value_horizon_months: z.number().positive().default(12),
    max_cost: z.number().min(0).nullable().default(null),
    /** Share of the gated customers held out of any intervention (DESIGN section 10); 0 turns it off. */
    holdout: z.number().min(0).lt(1).default(0),
    /** Holdout assignment hashes the salt with customer_id: change it to draw a new holdout group. */
    holdout_salt: z.string().min(1).default("holdout"),
  })
  .strict();
export type DecisionConfig = z.infer<typeof DecisionConfig>;

export const Manifest = z
  .object({
    name: z.string().min(1),
    version: z.string().min(1),
    description: z.string().optional(),
    files: z
      .object({
        churn_model: z.string(),
        causal_forest: z.string(),
        feature_columns: z.string(),
        scaler: z.string(),
        interventions: z.string(),
        reference: z.string(),
      })
      .strict(),
    /**
     * What the churn model was trained on: the scaled columns that the forest also takes (the
     * default), or the raw ones (one-hot, imputed, not scaled), as a scikit-learn pipeline may have.
     */
    churn_input: z.enum(["scaled", "raw"]).default("scaled"),
    fields: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/, "field names are lower_snake_case"), FieldSpec),
    decision: DecisionConfig.default(DecisionConfig.parse({})),
  })
  .strict();
export type Manifest = z.infer<typeof Manifest>;

export const FeatureColumns = z.array(z.string().min(1)).min(1);

export const Scaler = z
  .object({
    columns: z.array(z.string()),
    impute: z.record(z.string(), z.number()),
    mean: z.array(z.number()),
    scale: z.array(z.number().refine((v) => v !== 0, "a scale of 0 would divide by zero")),
  })
  .strict();
export type Scaler = z.infer<typeof Scaler>;

export const Rule = z
  .object({
    field: z.string(),
    op: z.enum(["eq", "ne", "in", "not_in", "lt", "le", "gt", "ge"]),
    value: z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number()]))]),
    /** Said in `alternatives[].reason` when the rule excludes the intervention. */
    reason: z.string().optional(),
  })
  .strict();
export type Rule = z.infer<typeof Rule>;

export const Intervention = z
  .object({
    name: z.string().min(1),
    cost: z.number().min(0),
    cooldown_days: z.number().min(0).default(0),
    description: z.string().optional(),
    rules: z.array(Rule).default([]),
  })
  .strict();
export type Intervention = z.infer<typeof Intervention>;

/** How long a start of the intervention keeps another from starting (ms). */
export const cooldownMs = (iv: Pick<Intervention, "cooldown_days">): number => iv.cooldown_days * 86_400_000;

export const Interventions = z.object({ interventions: z.array(Intervention).min(1) }).strict();

/** Training-time distributions for the drift tests (written by `churn reference`). */
export const Reference = z
  .object({
    rows: z.number().int().min(1),
    /** A sample of each numeric raw field. */
    numeric: z.record(z.string(), z.array(z.number())),
    /** Counts of each category value of each categorical field. */
    categories: z.record(z.string(), z.record(z.string(), z.number().int().min(0))),
    /** A sample of each intervention's predicted effect (EconML sign: negative = less churn). */
    effects: z.record(z.string(), z.array(z.number())),
  })
  .strict();
export type Reference = z.infer<typeof Reference>;
