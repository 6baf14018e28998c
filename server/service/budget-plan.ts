// Budgets over many customers, for a batch call and for a plan over a whole file scored in
// chunks (`planBudget`): the options that qualify under the policy, then the multiple-choice
// knapsack of decision/budget.ts over all customers at once.
import type { PlanBudgetRequest, PlanBudgetResponse, PlanOption } from "../contract/api.ts";
import { allocate } from "../decision/budget.ts";
import { qualifies, type DecisionSettings } from "../decision/decide.ts";

/** Each customer's pick within `budget` (maximising total expected value), or null. */
export function pickWithin<T extends Pick<PlanOption, "cost" | "expected_value">>(options: T[][], budget: number): (T | null)[] {
  const picks = allocate(options.map((list) => list.map((o) => ({ cost: o.cost, value: o.expected_value }))), budget);
  return picks.map((k, i) => (k < 0 ? null : options[i][k]));
}

export function planBudget(request: PlanBudgetRequest): PlanBudgetResponse {
  const settings: Pick<DecisionSettings, "policy" | "requireSignificance"> = {
    policy: request.policy ?? "max_value",
    requireSignificance: request.require_significance ?? false,
  };
  const picks = pickWithin(request.customers.map((list) => list.filter((o) => qualifies(o, settings))), request.budget);
  let totalCost = 0;
  let value = 0;
  for (const p of picks) {
    if (p === null) continue;
    totalCost += p.cost;
    value += p.expected_value;
  }
  return { picks: picks.map((p) => p?.intervention ?? null), total_cost: totalCost, expected_value: value };
}
