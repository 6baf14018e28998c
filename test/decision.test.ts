// The decision rules of DESIGN section 4, with property tests over random customers and effects.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Intervention } from "../server/contract/bundle.ts";
import type { ArmEffect } from "../server/contract/records.ts";
import { decide, riskLevel, score, type DecisionSettings } from "../server/decision/decide.ts";

const catalog: Intervention[] = [
  { name: "email_nudge", cost: 0.5, cooldown_days: 7, rules: [] },
  { name: "discount_199", cost: 23.88, cooldown_days: 90, rules: [{ field: "contract_type", op: "ne", value: "Two year", reason: "no discounts on two-year contracts" }] },
  { name: "retention_call", cost: 12, cooldown_days: 30, rules: [] },
  { name: "free_upgrade", cost: 15, cooldown_days: 180, rules: [{ field: "internet_service", op: "ne", value: "No" }] },
];

const settings: DecisionSettings = {
  threshold: 0.3, riskMedium: 0.3, riskHigh: 0.6, policy: "max_reduction", gate: "risk", requireSignificance: false, maxCost: null, valueField: "monthly_charges", valueHorizonMonths: 12,
};

const effect = fc
  .tuple(fc.double({ min: -0.5, max: 0.5, noNaN: true }), fc.double({ min: 0, max: 0.3, noNaN: true }))
  .map(([e, half]): ArmEffect => ({ effect: e, lower: e - half, upper: e + half }));
const effects = fc.tuple(effect, effect, effect, effect).map((es) => Object.fromEntries(catalog.map((iv, i) => [iv.name, es[i]])));
const customer = fc.record({
  monthly_charges: fc.double({ min: 0, max: 200, noNaN: true }),
  contract_type: fc.constantFrom("Month-to-month", "One year", "Two year"),
  internet_service: fc.constantFrom("DSL", "Fiber optic", "No"),
});
const config = fc.record({
  policy: fc.constantFrom("max_reduction" as const, "max_value" as const),
  requireSignificance: fc.boolean(),
  maxCost: fc.option(fc.double({ min: 0, max: 30, noNaN: true }), { nil: null }),
});
const never = () => undefined;

describe("decision rules", () => {
  it("risk levels at 0.30 and 0.60", () => {
    expect([0, 0.29, 0.3, 0.59, 0.6, 1].map((p) => riskLevel(p, settings))).toEqual(["LOW", "LOW", "MEDIUM", "MEDIUM", "HIGH", "HIGH"]);
  });

  it("the chosen intervention is eligible, qualifies and is the policy's best (property)", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), customer, effects, config, (p, values, fx, cfg) => {
        const s = { ...settings, ...cfg };
        const d = decide(p, values, fx, catalog, s, never, 0);
        expect(d.atRisk).toBe(p > s.threshold);
        for (const c of d.candidates) {
          const e = fx[c.intervention];
          expect(c.churn_reduction).toBe(-e.effect);
          expect(c.ci_lower).toBe(-e.upper);
          expect(c.ci_upper).toBe(-e.lower);
          expect(c.expected_value).toBeCloseTo(c.churn_reduction * values.monthly_charges * 12 - c.cost, 9);
          if (c.intervention === "free_upgrade" && values.internet_service === "No") expect(c.eligible).toBe(false);
          if (c.intervention === "discount_199" && values.contract_type === "Two year") expect(c.reason).toBe("no discounts on two-year contracts");
          if (s.maxCost !== null && c.cost > s.maxCost) expect(c.eligible).toBe(false);
          if (c.eligible) expect(c.reason).toBeNull();
        }
        const qualified = d.candidates.filter((c) => c.eligible && score(c, s.policy) > 0 && (!s.requireSignificance || c.ci_lower > 0));
        expect(d.qualifying).toEqual(qualified);
        if (!d.atRisk || qualified.length === 0) {
          expect(d.chosen).toBeNull();
        } else {
          expect(qualified).toContain(d.chosen);
          for (const q of qualified) expect(score(d.chosen!, s.policy)).toBeGreaterThanOrEqual(score(q, s.policy));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("cooldown excludes a recently triggered intervention and names when it ends", () => {
    const fx = Object.fromEntries(catalog.map((iv) => [iv.name, { effect: -0.2, lower: -0.3, upper: -0.1 }]));
    const now = Date.parse("2026-01-10T00:00:00Z");
    const last = (iv: string) => (iv === "retention_call" ? Date.parse("2026-01-01T00:00:00Z") : undefined);
    const d = decide(0.5, { monthly_charges: 50, contract_type: "One year", internet_service: "DSL" }, fx, catalog, settings, last, now);
    const call = d.candidates.find((c) => c.intervention === "retention_call")!;
    expect(call.eligible).toBe(false);
    expect(call.reason).toBe("in cooldown until 2026-01-31T00:00:00.000Z");
    // 40 days later the 30-day cooldown is over.
    const later = decide(0.5, { monthly_charges: 50, contract_type: "One year", internet_service: "DSL" }, fx, catalog, settings, last, now + 40 * 86_400_000);
    expect(later.candidates.find((c) => c.intervention === "retention_call")!.eligible).toBe(true);
  });

  it("no effects (below the gate, not asked): no candidates, no recommendation", () => {
    const d = decide(0.1, { monthly_charges: 50 }, null, catalog, settings, never, 0);
    expect(d).toMatchObject({ riskLevel: "LOW", atRisk: false, candidates: [], qualifying: [], chosen: null });
  });
});

describe("the value gate", () => {
  const fx = (effects: Record<string, number>) => Object.fromEntries(catalog.map((iv) => [iv.name, { effect: -(effects[iv.name] ?? 0), lower: -(effects[iv.name] ?? 0) - 0.05, upper: -(effects[iv.name] ?? 0) + 0.05 }]));
  const customer = { monthly_charges: 50, contract_type: "One year", internet_service: "DSL" };

  it("intervenes below the churn threshold when an option has a positive expected value", () => {
    // 0.05 x 600 - 0.5 = 29.5 for the nudge; the risk gate leaves a 10% customer alone.
    const effects = fx({ email_nudge: 0.05 });
    expect(decide(0.1, customer, effects, catalog, settings, never, 0).chosen).toBeNull();
    const d = decide(0.1, customer, effects, catalog, { ...settings, gate: "value" }, never, 0);
    expect(d).toMatchObject({ atRisk: false, open: true, customerValue: 600 });
    expect(d.chosen?.intervention).toBe("email_nudge");
  });

  it("leaves out options whose expected value is not positive, whatever their reduction", () => {
    // discount_199: 0.03 x 600 - 23.88 < 0, the largest reduction; the nudge: 0.01 x 600 - 0.5 > 0.
    const effects = fx({ discount_199: 0.03, email_nudge: 0.01 });
    expect(decide(0.5, customer, effects, catalog, settings, never, 0).chosen?.intervention).toBe("discount_199");
    const d = decide(0.5, customer, effects, catalog, { ...settings, gate: "value" }, never, 0);
    expect(d.qualifying.map((c) => c.intervention)).toEqual(["email_nudge"]);
    expect(d.chosen?.intervention).toBe("email_nudge");
    // No positive-value option: no intervention, at any risk.
    expect(decide(0.9, { ...customer, monthly_charges: 1 }, fx({ discount_199: 0.03 }), catalog, { ...settings, gate: "value" }, never, 0).chosen).toBeNull();
  });
});
