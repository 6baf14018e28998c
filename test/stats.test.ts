// The monitoring statistics against SciPy 1.10 and scikit-learn 1.2 (fixtures/stats).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { auc, brier, chi2Contingency, ece, ks2samp, reliability } from "../server/monitor/stats.ts";
import { readText } from "./helpers/fixtures.ts";

const ref = JSON.parse(readText("stats", "reference.json"));
const rel = (got: number, want: number) => Math.abs(got - want) / Math.abs(want);

describe("two-sample KS", () => {
  for (const [i, c] of (ref.ks_2samp as any[]).entries()) {
    it(`case ${i}: ${c.a.length} vs ${c.b.length}: D exact, p within 1e-6 of SciPy's default (exact)`, () => {
      const r = ks2samp(c.a, c.b);
      expect(r.method).toBe("exact");
      expect(Math.abs(r.statistic - c.auto.statistic)).toBeLessThanOrEqual(1e-15);
      expect(rel(r.pValue, c.auto.pvalue)).toBeLessThanOrEqual(1e-6);
      if (c.exact) expect(rel(ks2samp(c.a, c.b, "exact").pValue, c.exact.pvalue)).toBeLessThanOrEqual(1e-6);
    });
  }

  it("D is in [0, 1], symmetric, and 0 with p = 1 for identical samples (property)", () => {
    const sample = fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(sample, sample, (a, b) => {
        const ab = ks2samp(a, b);
        const ba = ks2samp(b, a);
        expect(ab.statistic).toBeGreaterThanOrEqual(0);
        expect(ab.statistic).toBeLessThanOrEqual(1);
        expect(ab.statistic).toBe(ba.statistic);
        expect(Math.abs(ab.pValue - ba.pValue)).toBeLessThan(1e-12);
        expect(ks2samp(a, a)).toMatchObject({ statistic: 0, pValue: 1 });
      }),
      { numRuns: 300 },
    );
  });

  it("falls back to the limiting distribution above 10,000 per side", () => {
    const a = Array.from({ length: 10_001 }, (_, i) => i);
    const r = ks2samp(a, a.map((x) => x + 300));
    expect(r.method).toBe("asymp");
    expect(r.pValue).toBeLessThan(0.05);
  });
});

describe("chi-square", () => {
  for (const [i, c] of (ref.chi2 as any[]).entries()) {
    it(`case ${i}: statistic, dof and p-value as SciPy`, () => {
      const r = chi2Contingency(c.reference_counts, c.live_counts)!;
      expect(rel(r.statistic, c.statistic)).toBeLessThanOrEqual(1e-12);
      expect(r.dof).toBe(c.dof);
      expect(rel(r.pValue, c.pvalue)).toBeLessThanOrEqual(1e-6);
    });
  }
});

describe("AUC, Brier, ECE", () => {
  for (const [i, c] of (ref.auc as any[]).entries()) {
    it(`case ${i}: as scikit-learn`, () => {
      expect(rel(auc(c.labels, c.scores)!, c.auc)).toBeLessThanOrEqual(1e-12);
      expect(rel(brier(c.labels, c.scores), c.brier)).toBeLessThanOrEqual(1e-12);
      expect(Math.abs(ece(reliability(c.labels, c.scores)) - c.ece_10_equal_width)).toBeLessThanOrEqual(1e-12);
    });
  }

  it("AUC of a perfect ranking is 1 and flips with the labels (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 2, maxLength: 50 }), (scores) => {
        const labels = scores.map((s) => (s > 0.5 ? 1 : 0));
        const a = auc(labels, scores);
        if (a === null) return;
        expect(a).toBe(1);
        expect(auc(labels.map((l) => 1 - l), scores)).toBe(0);
      }),
    );
  });

  it("bin edges: an inner edge goes to the upper bin, 1.0 to the last", () => {
    const t = reliability([1, 0, 1], [0.1, 0.5, 1.0]);
    expect(t[1].count).toBe(1);
    expect(t[5].count).toBe(1);
    expect(t[9].count).toBe(1);
  });
});
