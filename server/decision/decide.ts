// The decision rules (DESIGN section 4) for one customer: risk level, churn gate, each
// intervention's reduction with its interval, eligibility (rules, cooldown, cost cap), expected
// value, and the policy's choice.
import type { Alternative, Gate, Policy, RiskLevel } from "../contract/api.ts";
import { cooldownMs, type Intervention, type Rule } from "../contract/bundle.ts";
import type { Effects } from "../contract/records.ts";

export interface DecisionSettings {
  threshold: number;
  riskMedium: number;
  riskHigh: number;
  policy: Policy;
  /** "risk": only above `threshold`; "value": any customer with a positive-value option. */
  gate: Gate;
  requireSignificance: boolean;
  /** Per-customer cost cap; null for none. */
  maxCost: number | null;
  /** Customer value = this field x `valueHorizonMonths`. */
  valueField: string;
  valueHorizonMonths: number;
}

/** When each intervention was last triggered for the customer (ms epoch), for cooldowns. */
export type LastTriggered = (intervention: string) => number | undefined;

export interface Decision {
  riskLevel: RiskLevel;
  /** Above the churn threshold. */
  atRisk: boolean;
  /** Through the gate: an intervention may be chosen (at risk, or any customer with the value gate). */
  open: boolean;
  /** What a prevented churn is worth: the value field x the horizon. */
  customerValue: number;
  /** Every intervention of the catalog, as the response's alternatives show them. */
  candidates: Alternative[];
  /** The candidates that are eligible and pass the policy's bar (positive reduction or value; significance). */
  qualifying: Alternative[];
  chosen: Alternative | null;
}

export function riskLevel(p: number, s: DecisionSettings): RiskLevel {
  return p < s.riskMedium ? "LOW" : p < s.riskHigh ? "MEDIUM" : "HIGH";
}

export function ruleHolds(rule: Rule, value: number | string | null): boolean {
  const v = rule.value;
  switch (rule.op) {
    case "eq":
      return value === v;
    case "ne":
      return value !== v;
    case "in":
      return (v as (string | number)[]).includes(value as string | number);
    case "not_in":
      return !(v as (string | number)[]).includes(value as string | number);
    case "lt":
      return typeof value === "number" && value < (v as number);
    case "le":
      return typeof value === "number" && value <= (v as number);
    case "gt":
      return typeof value === "number" && value > (v as number);
    case "ge":
      return typeof value === "number" && value >= (v as number);
  }
}

function describeRule(rule: Rule): string {
  return rule.reason ?? `requires ${rule.field} ${rule.op} ${JSON.stringify(rule.value)}`;
}

/** Why the intervention is excluded for this customer, or null when it is eligible. */
export function exclusion(
  iv: Intervention,
  values: Record<string, number | string | null>,
  last: LastTriggered,
  now: number,
  maxCost: number | null,
): string | null {
  for (const rule of iv.rules) if (!ruleHolds(rule, values[rule.field] ?? null)) return describeRule(rule);
  const at = last(iv.name);
  const cooldown = cooldownMs(iv);
  if (at !== undefined && cooldown > 0 && now - at < cooldown) return `in cooldown until ${new Date(at + cooldown).toISOString()}`;
  if (maxCost !== null && iv.cost > maxCost) return `cost ${iv.cost} exceeds max_cost ${maxCost}`;
  return null;
}

/** The policy's score of a candidate: what it maximises. */
export function score(c: Pick<Alternative, "churn_reduction" | "expected_value">, policy: Policy): number {
  return policy === "max_value" ? c.expected_value : c.churn_reduction;
}

/**
 * Whether an eligible candidate passes the policy's bar: a positive score, a positive expected
 * value under the value gate, and significance if required.
 */
export function qualifies(
  c: Pick<Alternative, "eligible" | "churn_reduction" | "expected_value" | "ci_lower">,
  settings: Pick<DecisionSettings, "policy" | "requireSignificance"> & { gate?: Gate },
): boolean {
  return c.eligible && score(c, settings.policy) > 0 && (settings.gate !== "value" || c.expected_value > 0) && (!settings.requireSignificance || c.ci_lower > 0);
}

/** Whether the forest is needed to decide: above the churn threshold, or for every customer under the value gate. */
export function needsEffects(probability: number, settings: Pick<DecisionSettings, "gate" | "threshold">): boolean {
  return settings.gate === "value" || probability > settings.threshold;
}

export function decide(
  probability: number,
  values: Record<string, number | string | null>,
  effects: Effects | null,
  catalog: Intervention[],
  settings: DecisionSettings,
  last: LastTriggered,
  now: number,
): Decision {
  const atRisk = probability > settings.threshold;
  const open = needsEffects(probability, settings);
  const value = values[settings.valueField];
  const customerValue = (typeof value === "number" ? value : 0) * settings.valueHorizonMonths;
  const candidates: Alternative[] = [];
  const qualifying: Alternative[] = [];
  let chosen: Alternative | null = null;
  if (effects) {
    for (const iv of catalog) {
      const e = effects[iv.name];
      const reduction = -e.effect;
      const reason = exclusion(iv, values, last, now, settings.maxCost);
      const candidate: Alternative = {
        intervention: iv.name,
        churn_reduction: reduction,
        ci_lower: -e.upper,
        ci_upper: -e.lower,
        cost: iv.cost,
        expected_value: reduction * customerValue - iv.cost,
        eligible: reason === null,
        reason,
      };
      candidates.push(candidate);
      if (qualifies(candidate, settings)) {
        qualifying.push(candidate);
        if (open && (chosen === null || score(candidate, settings.policy) > score(chosen, settings.policy))) chosen = candidate;
      }
    }
  }
  return { riskLevel: riskLevel(probability, settings), atRisk, open, customerValue, candidates, qualifying, chosen };
}
