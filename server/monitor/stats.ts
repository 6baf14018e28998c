// The monitoring statistics, checked against SciPy and scikit-learn (fixtures/stats):
// two-sample Kolmogorov-Smirnov, chi-square on a 2 x k table, AUC, Brier score, ECE.
import type { ReliabilityBin } from "../contract/monitoring.ts";

export function sorted(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/** D = sup |F_a - F_b| over the pooled sample (ties handled as SciPy's searchsorted "right"). */
export function ksStatistic(a: Float64Array, b: Float64Array): number {
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < a.length && j < b.length) {
    const x = Math.min(a[i], b[j]);
    while (i < a.length && a[i] <= x) i++;
    while (j < b.length && b[j] <= x) j++;
    d = Math.max(d, Math.abs(i / a.length - j / b.length));
  }
  return d;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * Exact P(D >= d) for samples of sizes m and n without ties: the share of monotone lattice
 * paths from (0,0) to (m,n) that leave the band |i/m - j/n| < d, by dynamic programming over
 * the probabilities of a uniformly random path (no overflow, no binomials).
 */
function ksExactPValue(m: number, n: number, d: number): number {
  const g = gcd(m, n);
  const lcm = (m / g) * n;
  const h = Math.round(d * lcm);
  if (h === 0) return 1;
  const limit = h * g; // inside iff |i*n - j*m| < h*g
  let prev = new Float64Array(n + 1);
  let cur = new Float64Array(n + 1);
  prev[0] = 1;
  for (let j = 1; j <= n; j++) {
    prev[j] = Math.abs(j * m) < limit ? (prev[j - 1] * (n - j + 1)) / (m + n - j + 1) : 0;
  }
  for (let i = 1; i <= m; i++) {
    cur.fill(0);
    for (let j = 0; j <= n; j++) {
      if (Math.abs(i * n - j * m) >= limit) continue;
      // Arriving from (i-1, j) with a step in i, or from (i, j-1) with a step in j.
      const rest = m + n - (i - 1) - j;
      let p = (prev[j] * (m - i + 1)) / rest;
      if (j > 0) p += (cur[j - 1] * (n - j + 1)) / (m + n - i - (j - 1));
      cur[j] = p;
    }
    [prev, cur] = [cur, prev];
  }
  return Math.min(1, Math.max(0, 1 - prev[n]));
}

/** Kolmogorov's limiting distribution: P(K > x) = 2 sum (-1)^(k-1) e^(-2 k^2 x^2). */
function kolmogorovSf(x: number): number {
  if (x <= 0) return 1;
  if (x < 0.2) return 1;
  let sum = 0;
  for (let k = 1; k < 100; k++) {
    const term = Math.exp(-2 * k * k * x * x);
    sum += (k % 2 ? 1 : -1) * term;
    if (term < 1e-18) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

export interface KsResult {
  statistic: number;
  pValue: number;
  method: "exact" | "asymp";
}

/** Above this many values per side the exact path count gives way to the limiting distribution. */
export const KS_EXACT_MAX = 10_000;

/**
 * Two-sample KS test, two-sided. `auto` (default) is SciPy's choice: exact when both samples hold
 * at most 10,000 values; `asymp` uses Kolmogorov's limiting distribution at sqrt(mn/(m+n)) D.
 */
export function ks2samp(a: ArrayLike<number>, b: ArrayLike<number>, mode: "auto" | "exact" | "asymp" = "auto"): KsResult {
  return ks2sampSorted(sorted(a), sorted(b), mode);
}

/** ks2samp of samples already sorted ascending (a reference sorted once serves every test). */
export function ks2sampSorted(sa: Float64Array, sb: Float64Array, mode: "auto" | "exact" | "asymp" = "auto"): KsResult {
  if (sa.length === 0 || sb.length === 0) throw new RangeError("ks2samp needs two non-empty samples");
  const d = ksStatistic(sa, sb);
  const m = sa.length;
  const n = sb.length;
  const exact = mode === "exact" || (mode === "auto" && Math.max(m, n) <= KS_EXACT_MAX);
  if (exact) return { statistic: d, pValue: ksExactPValue(Math.max(m, n), Math.min(m, n), d), method: "exact" };
  const en = (m * n) / (m + n);
  return { statistic: d, pValue: kolmogorovSf(Math.sqrt(en) * d), method: "asymp" };
}

/** Regularised upper incomplete gamma Q(a, x) (series below a + 1, continued fraction above). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const lnGammaA = lnGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let k = 1; k < 1000; k++) {
      term *= x / (a + k);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-17) break;
    }
    return 1 - sum * Math.exp(-x + a * Math.log(x) - lnGammaA);
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x + a * Math.log(x) - lnGammaA) * h;
}

/** ln Γ(x), Lanczos (g = 7, n = 9), ~15 significant digits. */
function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const xx = x - 1;
  let s = c[0];
  for (let i = 1; i < 9; i++) s += c[i] / (xx + i);
  const t = xx + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (xx + 0.5) * Math.log(t) - t + Math.log(s);
}

export interface Chi2Result {
  statistic: number;
  pValue: number;
  dof: number;
}

/**
 * Pearson's chi-square test of a 2 x k table (reference counts vs live counts), as SciPy's
 * chi2_contingency(correction=False). Categories absent from both rows are left out (SciPy
 * refuses a zero expected count); fewer than two categories left: null.
 */
export function chi2Contingency(reference: number[], live: number[]): Chi2Result | null {
  const cols = reference.map((r, k) => [r, live[k] ?? 0]).filter(([r, l]) => r + l > 0);
  if (cols.length < 2) return null;
  const rowTotals = [cols.reduce((s, c) => s + c[0], 0), cols.reduce((s, c) => s + c[1], 0)];
  if (rowTotals[0] === 0 || rowTotals[1] === 0) return null;
  const total = rowTotals[0] + rowTotals[1];
  let statistic = 0;
  for (const c of cols) {
    const colTotal = c[0] + c[1];
    for (let r = 0; r < 2; r++) {
      const expected = (rowTotals[r] * colTotal) / total;
      statistic += (c[r] - expected) ** 2 / expected;
    }
  }
  const dof = cols.length - 1;
  return { statistic, pValue: gammaQ(dof / 2, statistic / 2), dof };
}

/** Area under the ROC curve from ranks (Mann-Whitney U), ties given their average rank. */
export function auc(labels: ArrayLike<number>, scores: ArrayLike<number>): number | null {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => scores[x] - scores[y]);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]] === 1) {
        positives++;
        rankSum += rank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return null;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export function brier(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < scores.length; i++) s += (scores[i] - labels[i]) ** 2;
  return s / scores.length;
}


/** 10 equal-width bins on [0, 1]: a score on an inner edge goes up, 1.0 into the last bin. */
export function reliability(labels: ArrayLike<number>, scores: ArrayLike<number>, bins = 10): ReliabilityBin[] {
  const sum = new Float64Array(bins);
  const pos = new Float64Array(bins);
  const count = new Float64Array(bins);
  for (let i = 0; i < scores.length; i++) {
    let b = 0;
    while (b < bins - 1 && scores[i] >= (b + 1) / bins) b++;
    sum[b] += scores[i];
    pos[b] += labels[i];
    count[b]++;
  }
  return Array.from({ length: bins }, (_, b) => ({
    bin: b,
    mean_predicted: count[b] ? sum[b] / count[b] : null,
    observed_rate: count[b] ? pos[b] / count[b] : null,
    count: count[b],
  }));
}

/** Expected calibration error: sum over non-empty bins of |mean score - mean label| * count / n. */
export function ece(table: ReliabilityBin[]): number {
  const n = table.reduce((s, b) => s + b.count, 0);
  return table.reduce((s, b) => (b.count ? s + (Math.abs(b.mean_predicted! - b.observed_rate!) * b.count) / n : s), 0);
}
