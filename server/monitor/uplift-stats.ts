// The realized-uplift statistics (DESIGN section 10): Wilson's score interval for a proportion,
// Newcombe's hybrid score interval for a difference of two independent proportions (his method
// 10, 1998: good coverage at small counts and at rates near 0 or 1, where the normal interval
// fails), and the normal interval for a difference of two means (policy value).

/** The standard normal quantile of 0.975: 95% intervals. */
export const Z95 = 1.959963984540054;

export interface Interval {
  lower: number;
  upper: number;
}

/** Wilson's score interval for `x` successes out of `n` (n > 0). */
export function wilson(x: number, n: number, z = Z95): Interval {
  const p = x / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { lower: Math.max(0, centre - half), upper: Math.min(1, centre + half) };
}

/** Newcombe's hybrid score interval for x1/n1 - x2/n2, from the two Wilson intervals. */
export function newcombe(x1: number, n1: number, x2: number, n2: number, z = Z95): Interval & { difference: number } {
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const a = wilson(x1, n1, z);
  const b = wilson(x2, n2, z);
  const difference = p1 - p2;
  return {
    difference,
    lower: difference - Math.sqrt((p1 - a.lower) ** 2 + (b.upper - p2) ** 2),
    upper: difference + Math.sqrt((a.upper - p1) ** 2 + (p2 - b.lower) ** 2),
  };
}

/** Mean and sample variance (n - 1) of `values`. */
export function meanVariance(values: ArrayLike<number>): { mean: number; variance: number; n: number } {
  const n = values.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  return { mean, variance: n > 1 ? ss / (n - 1) : NaN, n };
}

/** mean(a) - mean(b) with the normal (Welch) interval: each side's variance over its size. */
export function meanDifference(a: ArrayLike<number>, b: ArrayLike<number>, z = Z95): Interval & { difference: number } {
  const x = meanVariance(a);
  const y = meanVariance(b);
  const difference = x.mean - y.mean;
  const se = Math.sqrt(x.variance / x.n + y.variance / y.n);
  return { difference, lower: difference - z * se, upper: difference + z * se };
}
