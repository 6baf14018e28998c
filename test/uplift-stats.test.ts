// The realized-uplift statistics against published values: Newcombe (1998), "Interval estimation
// for the difference between independent proportions", Statistics in Medicine 17, Table II,
// method 10 (the hybrid score interval), and Wilson's interval from the same paper's Table I.
import { describe, expect, it } from "vitest";
import { meanDifference, newcombe, wilson } from "../server/monitor/uplift-stats.ts";

describe("Wilson's score interval", () => {
  it("matches published values", () => {
    // Newcombe (1998, part I) Table I, method 3: 81/263 and 15/148.
    const a = wilson(81, 263);
    expect(a.lower).toBeCloseTo(0.2553, 4);
    expect(a.upper).toBeCloseTo(0.3662, 4);
    const b = wilson(15, 148);
    expect(b.lower).toBeCloseTo(0.0624, 4);
    expect(b.upper).toBeCloseTo(0.1605, 4);
    const zero = wilson(0, 20);
    expect(zero.lower).toBe(0);
    expect(zero.upper).toBeCloseTo(0.1611, 4);
  });
});

describe("Newcombe's hybrid score interval for a difference of proportions", () => {
  const cases: [number, number, number, number, number, number][] = [
    [56, 70, 48, 80, 0.0524, 0.3339],
    [9, 10, 3, 10, 0.1705, 0.809],
    [6, 7, 2, 7, 0.0582, 0.8062],
    [5, 56, 0, 29, -0.0381, 0.1926],
    [0, 10, 0, 20, -0.1611, 0.2775],
    [0, 10, 0, 10, -0.2775, 0.2775],
    [10, 10, 0, 20, 0.6791, 1],
    [10, 10, 0, 10, 0.6075, 1],
  ];
  for (const [x1, n1, x2, n2, lower, upper] of cases) {
    it(`${x1}/${n1} - ${x2}/${n2}: [${lower}, ${upper}]`, () => {
      const r = newcombe(x1, n1, x2, n2);
      expect(r.difference).toBeCloseTo(x1 / n1 - x2 / n2, 12);
      expect(r.lower).toBeCloseTo(lower, 4);
      expect(r.upper).toBeCloseTo(upper, 4);
    });
  }
});

describe("difference of means", () => {
  it("is Welch's normal interval", () => {
    const a = [1, 2, 3, 4, 5];
    const b = [2, 4, 6];
    const r = meanDifference(a, b);
    // mean 3 (variance 2.5) minus mean 4 (variance 4): se = sqrt(2.5/5 + 4/3).
    const se = Math.sqrt(2.5 / 5 + 4 / 3);
    expect(r.difference).toBeCloseTo(-1, 12);
    expect(r.lower).toBeCloseTo(-1 - 1.959963984540054 * se, 12);
    expect(r.upper).toBeCloseTo(-1 + 1.959963984540054 * se, 12);
  });
});
