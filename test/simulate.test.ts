// The simulation on the bundled test customers with the generator's ground truth: the realized
// uplift interval covers the true mean uplift of the treated customers at about its nominal rate
// over many runs (seeded outcome draws, a new holdout group each), the forest's predicted
// reduction stands next to it, and effect_calibration fires when outcomes come from effects
// shrunk to zero and stays quiet when they come from the truth.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { coverage, defaultScenarios, simulate } from "../cli/commands/simulate.ts";

const input = "models/sample_customers.csv";

describe("churn simulate", () => {
  it("covers the true uplift of the treated, and the true policy value, at about 95% over 40 runs", async () => {
    const [runs] = await simulate({ input, seed: 100, runs: 40, holdout: 0.5, scenarios: [{ name: "risk gate" }] });
    const c = runs.map(coverage);
    const rate = (k: "uplift" | "value") => c.filter((x) => x[k]).length / c.length;
    // With 95% coverage, fewer than 34 of 40 happens about 1 time in 100; every run is seeded.
    expect(rate("uplift")).toBeGreaterThanOrEqual(0.85);
    expect(rate("value")).toBeGreaterThanOrEqual(0.85);
    for (const r of runs) {
      // Intervals that cover by being vast would pass too: about +-0.07 at ~370 customers a group.
      expect(r.uplift.overall.ci_upper! - r.uplift.overall.ci_lower!).toBeLessThan(0.2);
      expect(r.uplift.overall.predicted_reduction).toBeGreaterThan(0.1);
      expect(r.held_out).toBeGreaterThan(0.4 * (r.treated + r.held_out));
    }
  }, 120_000);

  it("fires effect_calibration when the interventions do nothing, and not when outcomes follow the truth", async () => {
    const scenarios = [{ name: "risk gate" }];
    const [[truth]] = await simulate({ input, seed: 7, holdout: 0.5, scenarios });
    expect(truth.alerts).toEqual([]);
    const [[none]] = await simulate({ input, seed: 7, holdout: 0.5, effectScale: 0, scenarios });
    expect(none.true_uplift_treated).toBe(0);
    expect(none.uplift.overall.ci_upper!).toBeLessThan(none.uplift.overall.predicted_reduction!);
    expect(none.alerts.map((a) => a.subject)).toContain("overall");
  }, 60_000);

  it("prints the table for the risk gate, the value gate and a budget under each (the built CLI)", () => {
    const r = spawnSync(process.execPath, ["dist/cli/main.js", "simulate", "--input", input, "--seed", "1"], { encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[1]).toMatch(/^policy +treated +held out +spend +realized uplift/);
    expect(lines.slice(2).map((l) => l.split(/ {2,}/)[0])).toEqual(defaultScenarios(5000).map((s) => s.name));
    // Deterministic: the same seed prints the same table.
    const again = spawnSync(process.execPath, ["dist/cli/main.js", "simulate", "--input", input, "--seed", "1"], { encoding: "utf8", timeout: 120_000 });
    expect(again.stdout).toBe(r.stdout);
  }, 120_000);
});
