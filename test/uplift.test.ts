// The monitor's realized uplift: counts and rates per group, the estimator's figures from known
// data, nulls below the label minimum, the policy value, the Qini curve, the effect_calibration
// alert and its Prometheus gauges.
import { describe, expect, it } from "vitest";
import type { ExperimentArm, LabelledOutcome } from "../server/contract/records.ts";
import { Monitor } from "../server/monitor/monitor.ts";
import { PrometheusMetrics } from "../server/monitor/prometheus.ts";
import { UpliftWindow } from "../server/monitor/uplift.ts";
import { newcombe } from "../server/monitor/uplift-stats.ts";

let seq = 0;
function outcome(group: ExperimentArm["group"], churned: boolean, arm: Partial<ExperimentArm> = {}): LabelledOutcome {
  return {
    prediction_id: `p${seq++}`, churn_probability: 0.5, churned, at: 0,
    experiment: { group, intervention: "discount", predicted_reduction: 0.1, customer_value: 100, cost: 5, ...arm },
  };
}
/** `n` outcomes of a group, the first `churned` of them churned. */
const many = (n: number, churned: number, group: ExperimentArm["group"], arm: Partial<ExperimentArm> = {}) =>
  Array.from({ length: n }, (_, i) => outcome(group, i < churned, arm));

describe("realized uplift", () => {
  it("compares treated with holdout customers of the same recommendation, with Newcombe's interval", () => {
    const w = new UpliftWindow(1000);
    for (const o of [...many(100, 30, "treated"), ...many(80, 36, "holdout"), ...many(50, 20, "treated", { intervention: "call", predicted_reduction: 0.02 }), ...many(40, 18, "holdout", { intervention: "call", predicted_reduction: 0.02 })]) w.push(o);
    // Not part of the experiment: no recommendation.
    w.push({ prediction_id: "x", churn_probability: 0.2, churned: true, at: 0 });
    const u = w.summary(0.5, 30);
    expect(u.holdout_fraction).toBe(0.5);
    expect([u.labelled_treated, u.labelled_holdout]).toEqual([150, 120]);
    const all = newcombe(54, 120, 50, 150);
    expect(u.overall.churn_treated).toBeCloseTo(50 / 150, 12);
    expect(u.overall.churn_holdout).toBeCloseTo(54 / 120, 12);
    expect(u.overall.uplift).toBeCloseTo(all.difference, 12);
    expect([u.overall.ci_lower, u.overall.ci_upper]).toEqual([all.lower, all.upper]);
    expect(u.overall.predicted_reduction).toBeCloseTo((180 * 0.1 + 90 * 0.02) / 270, 6);
    const discount = u.by_intervention.find((e) => e.intervention === "discount")!;
    expect(discount.labelled).toBe(180);
    expect(discount.uplift).toBeCloseTo(36 / 80 - 30 / 100, 12);
    expect(discount.ci_lower).toBeCloseTo(newcombe(36, 80, 30, 100).lower, 12);
    expect(discount.predicted_reduction).toBeCloseTo(0.1, 6);
    // 40 holdout labels of "call": above the minimum of 30.
    expect(u.by_intervention.find((e) => e.intervention === "call")!.uplift).toBeCloseTo(18 / 40 - 20 / 50, 12);
  });

  it("reports null, not 0, below the minimum of labels in either group", () => {
    const w = new UpliftWindow(1000);
    for (const o of [...many(100, 30, "treated"), ...many(29, 10, "holdout")]) w.push(o);
    const u = w.summary(0.05, 30);
    expect(u.overall.churn_treated).toBeCloseTo(0.3, 12);
    expect(u.overall.churn_holdout).toBeCloseTo(10 / 29, 12);
    expect([u.overall.uplift, u.overall.ci_lower, u.overall.ci_upper, u.overall.predicted_reduction]).toEqual([null, null, null, null]);
    expect(u.policy_value).toEqual({ per_customer: null, ci_lower: null, ci_upper: null });
    expect(u.qini).toEqual([]);
  });

  it("values the policy per customer it acts on: value lost without it minus value lost with it and its cost", () => {
    const w = new UpliftWindow(1000);
    // Treated: 10 of 40 churn (value 100 each), cost 5; holdout: 20 of 40 churn.
    for (const o of [...many(40, 10, "treated"), ...many(40, 20, "holdout")]) w.push(o);
    const pv = w.summary(0.5, 30).policy_value;
    // 100 x 0.5 - (100 x 0.25 + 5) = 20.
    expect(pv.per_customer).toBeCloseTo(20, 9);
    // Variances: holdout 100^2 x 0.5 x 0.5 x 40/39, treated 100^2 x 0.25 x 0.75 x 40/39.
    const se = Math.sqrt((2500 * 40) / 39 / 40 + (1875 * 40) / 39 / 40);
    expect(pv.ci_lower).toBeCloseTo(20 - 1.959963984540054 * se, 6);
    expect(pv.ci_upper).toBeCloseTo(20 + 1.959963984540054 * se, 6);
  });

  it("draws the Qini curve of the forest's ranking: prevented churns rise where the ranking is right", () => {
    const w = new UpliftWindow(1000);
    // High predicted reduction: the treatment works (10% vs 60% churn); low: it does nothing (50% both).
    for (const o of [...many(50, 5, "treated", { predicted_reduction: 0.4 }), ...many(50, 30, "holdout", { predicted_reduction: 0.4 }), ...many(50, 25, "treated", { predicted_reduction: 0.01 }), ...many(50, 25, "holdout", { predicted_reduction: 0.01 })]) w.push(o);
    const q = w.summary(0.5, 30).qini;
    expect(q[0]).toEqual({ fraction: 0, prevented: 0 });
    const half = q.find((p) => p.fraction === 0.5)!;
    // Top half: 30 x 50/50 - 5 = 25 prevented, per 200 labelled.
    expect(half.prevented).toBeCloseTo(25 / 200, 12);
    expect(q[q.length - 1].fraction).toBe(1);
    expect(q[q.length - 1].prevented).toBeCloseTo((55 - 30) / 200, 12);
  });

  it("keeps the newest labels only", () => {
    const w = new UpliftWindow(100);
    for (const o of [...many(100, 100, "treated"), ...many(60, 0, "treated"), ...many(40, 0, "holdout")]) w.push(o);
    const u = w.summary(0.5, 30);
    expect([u.labelled_treated, u.labelled_holdout, u.overall.churn_treated]).toEqual([60, 40, 0]);
  });
});

describe("effect_calibration alert", () => {
  const run = (treatedChurned: number, labels: number, minimum = 200) => {
    const monitor = new Monitor({ effectCalibrationMinimum: minimum });
    // Predicted reduction 0.1; holdout churns at 40%.
    monitor.onOutcomes([...many(labels, treatedChurned, "treated"), ...many(labels, Math.round(labels * 0.4), "holdout")]);
    return monitor;
  };

  it("fires when the realized interval excludes the predicted reduction, with enough labels in each group", () => {
    // Realized 0.0 (40% both) with 400 a group: interval about +-0.07, excludes 0.1.
    const m = run(160, 400);
    const s = m.snapshot();
    expect(s.uplift.overall.ci_upper!).toBeLessThan(0.1);
    expect(s.alerts.filter((a) => a.kind === "effect_calibration").map((a) => a.subject).sort()).toEqual(["discount", "overall"]);
    const firing = s.alerts.find((a) => a.subject === "overall")!;
    expect(firing.value).toBeCloseTo(0, 12);
    expect(firing.threshold).toBeCloseTo(0.1, 6);
  });

  it("stays quiet when the realized interval holds the prediction, or with too few labels", () => {
    // Realized 0.1 (30% vs 40%).
    const calibration = (m: Monitor) => m.snapshot().alerts.filter((a) => a.kind === "effect_calibration");
    expect(calibration(run(120, 400))).toEqual([]);
    // Realized 0 but 199 a group under a minimum of 200.
    expect(calibration(run(80, 199))).toEqual([]);
  });

  it("resolves once the realized uplift comes back to the prediction", () => {
    const m = run(160, 400);
    m.snapshot();
    // 1,600 more treated at 25% churn and holdout at 40%: the window's realized uplift comes near 0.12.
    m.onOutcomes([...many(1600, 400, "treated"), ...many(1600, 640, "holdout")]);
    m.snapshot();
    const events = m.alertsSince().filter((e) => e.subject === "overall").map((e) => e.state);
    expect(events).toEqual(["firing", "resolved"]);
  });
});

describe("uplift in Prometheus", () => {
  it("has no uplift sample without enough labels, then realized, interval and predicted per intervention", async () => {
    const monitor = new Monitor();
    const metrics = new PrometheusMetrics(monitor);
    let text = await metrics.text();
    expect(text).not.toMatch(/^churn_uplift\{/m);
    expect(text).not.toMatch(/^churn_policy_value_per_customer /m);
    expect(text).toMatch(/^churn_uplift_labelled\{group="holdout"\} 0$/m);
    monitor.onOutcomes([...many(100, 30, "treated"), ...many(100, 40, "holdout")]);
    // A scrape reads the evaluation of the last second: a new one.
    monitor.snapshot();
    text = await metrics.text();
    expect(text).toMatch(/^churn_uplift\{intervention="overall"\} 0\.1\d*$/m);
    expect(text).toMatch(/^churn_uplift\{intervention="discount"\} 0\.1\d*$/m);
    expect(text).toMatch(/^churn_uplift_ci_lower\{intervention="overall"\} -?0\.0\d+/m);
    expect(text).toMatch(/^churn_uplift_predicted_reduction\{intervention="overall"\} 0\.(1|0999)\d*$/m);
    expect(text).toMatch(/^churn_uplift_labelled\{group="treated"\} 100$/m);
    expect(text).toMatch(/^churn_policy_value_per_customer 5$/m);
  });
});
