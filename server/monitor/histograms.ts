// Distributions for the console: each input's reference vs live shares (the plots that show what
// a drift alert means, Evidently-style) and the live churn-score distribution.
import type { FeatureHistogram, MetricsSnapshot } from "../contract/monitoring.ts";

const NUMERIC_BINS = 10;
const SCORE_BINS = 20;

/** Equal-width bin edges over a sorted reference sample's range; the outer bins take what lies beyond it. */
export interface NumericBins {
  lo: number;
  width: number;
  count: number;
  reference: number[];
}

function binOf(b: NumericBins, v: number): number {
  if (b.width === 0) return 0;
  return Math.min(b.count - 1, Math.max(0, Math.floor((v - b.lo) / b.width)));
}

export function numericBins(sortedReference: Float64Array): NumericBins {
  const n = sortedReference.length;
  const lo = n ? sortedReference[0] : 0;
  const hi = n ? sortedReference[n - 1] : 0;
  const count = hi > lo ? NUMERIC_BINS : 1;
  const b: NumericBins = { lo, width: (hi - lo) / count, count, reference: [] };
  b.reference = shares(countInto(b, sortedReference), n) as number[];
  return b;
}

function countInto(b: NumericBins, values: ArrayLike<number>): number[] {
  const counts = new Array<number>(b.count).fill(0);
  for (let i = 0; i < values.length; i++) counts[binOf(b, values[i])]++;
  return counts;
}

function shares(counts: number[], n: number): (number | null)[] {
  return counts.map((c) => (n ? c / n : null));
}

const label = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(3));

export function numericHistogram(feature: string, b: NumericBins, live: Float64Array, drifted: boolean): FeatureHistogram {
  const liveShares = shares(countInto(b, live), live.length);
  return {
    feature, test: "ks", drifted,
    bins: b.reference.map((reference, i) => {
      const from = b.lo + i * b.width;
      const text = b.count === 1 ? label(b.lo) : i === 0 ? `<${label(from + b.width)}` : i === b.count - 1 ? `≥${label(from)}` : `${label(from)}–${label(from + b.width)}`;
      return { label: text, reference, live: liveShares[i] };
    }),
  };
}

export function categoricalHistogram(feature: string, reference: Record<string, number>, live: number[], drifted: boolean): FeatureHistogram {
  const refCounts = Object.values(reference);
  const refShares = shares(refCounts, refCounts.reduce((s, c) => s + c, 0));
  const liveShares = shares(live, live.reduce((s, c) => s + c, 0));
  return { feature, test: "chi2", drifted, bins: Object.keys(reference).map((category, i) => ({ label: category, reference: refShares[i] ?? 0, live: liveShares[i] ?? null })) };
}

export function scoreHistogram(scores: Float64Array): MetricsSnapshot["scores"] {
  const counts = new Array<number>(SCORE_BINS).fill(0);
  for (let i = 0; i < scores.length; i++) counts[Math.min(SCORE_BINS - 1, Math.max(0, Math.floor(scores[i] * SCORE_BINS)))]++;
  return { window: scores.length, bins: counts.map((count, i) => ({ lower: i / SCORE_BINS, upper: (i + 1) / SCORE_BINS, count })) };
}
