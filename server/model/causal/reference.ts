// The plain TypeScript causal-forest evaluator: EconML's effect / effect_interval formulas as
// written (averaged leaf statistics, θ = J̄⁻¹ā, little-bag variance with the bias correction),
// the yardstick for the WebAssembly core.
import type { Contrast, EffectResult, ForestEvaluator } from "../evaluator.ts";
import { contrastVectors, defaultContrasts } from "./contrasts.ts";
import type { CausalForest } from "./model.ts";
import { ndtri, normCdf, normPdf } from "./normal.ts";

/** Solves A x = b (A p x p row-major) by Gaussian elimination with partial pivoting; null if singular. */
export function solve(a: Float64Array, b: Float64Array, p: number): Float64Array | null {
  const m = Float64Array.from(a);
  const x = Float64Array.from(b);
  for (let k = 0; k < p; k++) {
    let best = k;
    for (let i = k + 1; i < p; i++) if (Math.abs(m[i * p + k]) > Math.abs(m[best * p + k])) best = i;
    if (!(Math.abs(m[best * p + k]) > 0)) return null;
    if (best !== k) {
      for (let j = 0; j < p; j++) [m[k * p + j], m[best * p + j]] = [m[best * p + j], m[k * p + j]];
      [x[k], x[best]] = [x[best], x[k]];
    }
    for (let i = k + 1; i < p; i++) {
      const f = m[i * p + k] / m[k * p + k];
      for (let j = k; j < p; j++) m[i * p + j] -= f * m[k * p + j];
      x[i] -= f * x[k];
    }
  }
  for (let i = p - 1; i >= 0; i--) {
    let s = x[i];
    for (let j = i + 1; j < p; j++) s -= m[i * p + j] * x[j];
    x[i] = s / m[i * p + i];
  }
  return x;
}

export class ReferenceForest implements ForestEvaluator {
  readonly numFeatures: number;
  readonly arms: string[];
  readonly control: string;

  constructor(private readonly forest: CausalForest) {
    this.numFeatures = forest.nFeatures;
    this.arms = forest.treatmentColumns;
    this.control = forest.control;
  }

  private leaf(t: number, row: Float64Array, offset: number): number {
    const f = this.forest;
    const base = f.treeNodeOffsets[t];
    let g = base;
    while (f.childrenLeft[g] !== -1) {
      g = base + (row[offset + f.feature[g]] <= f.threshold[g] ? f.childrenLeft[g] : f.childrenRight[g]);
    }
    return f.leafIndex[g];
  }

  effects(rows: Float64Array, nRows: number, alpha: number, contrasts?: Contrast[]): EffectResult {
    if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
    const f = this.forest;
    const list = contrasts ?? defaultContrasts(f);
    const q = contrastVectors(f, list);
    const p = f.nOutputs;
    const nc = list.length;
    const zLo = ndtri(alpha / 2);
    const zHi = ndtri(1 - alpha / 2);
    const S = f.subforestOffsets.length - 1;
    const B = f.subforestOffsets[1] - f.subforestOffsets[0];
    const out: EffectResult = {
      nRows, contrasts: list,
      effect: new Float64Array(nRows * nc), lower: new Float64Array(nRows * nc),
      upper: new Float64Array(nRows * nc), stderr: new Float64Array(nRows * nc),
    };
    for (let r = 0; r < nRows; r++) {
      const leaves = Array.from({ length: f.nTrees }, (_, t) => this.leaf(t, rows, r * this.numFeatures));
      const aBar = new Float64Array(p);
      const jBar = new Float64Array(p * p);
      for (const l of leaves) {
        for (let i = 0; i < p; i++) aBar[i] += f.leafAlpha[l * p + i];
        for (let i = 0; i < p * p; i++) jBar[i] += f.leafJac[l * p * p + i];
      }
      for (let i = 0; i < p; i++) aBar[i] /= f.nTrees;
      for (let i = 0; i < p * p; i++) jBar[i] /= f.nTrees;
      const theta = solve(jBar, aBar, p);
      if (!theta) {
        for (const field of [out.effect, out.lower, out.upper, out.stderr]) field.fill(NaN, r * nc, (r + 1) * nc);
        continue;
      }
      // Per-tree moments m_t = a_t - J_t θ.
      const moments = leaves.map((l) => {
        const m = new Float64Array(p);
        for (let i = 0; i < p; i++) {
          let v = f.leafAlpha[l * p + i];
          for (let j = 0; j < p; j++) v -= f.leafJac[l * p * p + i * p + j] * theta[j];
          m[i] = v;
        }
        return m;
      });
      for (let c = 0; c < nc; c++) {
        const o = r * nc + c;
        const qc = q.subarray(c * p, (c + 1) * p);
        // J̄ is symmetric: J̄ᵀw = q (J̄ gave θ, so it is not singular).
        const w = solve(jBar, qc, p)!;
        const point = qc.reduce((s, v, i) => s + v * theta[i], 0);
        const u = moments.map((m) => m.reduce((s, v, i) => s + v * w[i], 0));
        let sumMean = 0;
        let sumMeanSq = 0;
        let sumSq = 0;
        for (let s = 0; s < S; s++) {
          const t0 = f.subforestOffsets[s];
          const t1 = f.subforestOffsets[s + 1];
          let su = 0;
          let su2 = 0;
          for (let t = t0; t < t1; t++) {
            su += u[t];
            su2 += u[t] * u[t];
          }
          const mean = su / (t1 - t0);
          sumMean += mean;
          sumMeanSq += mean * mean;
          sumSq += su2 / (t1 - t0);
        }
        const meanU = sumMean / S;
        const sb = sumMeanSq / S;
        const v = sb - meanU * meanU;
        const vc = (sumSq / S - sb) / (B - 1);
        const naive = v - vc;
        const se = Math.max(v, vc) * Math.sqrt(2 / S);
        const z = naive / Math.max(se, 1e-10);
        const stderr = Math.sqrt(naive + (se * normPdf(z)) / normCdf(z));
        out.effect[o] = point;
        out.lower[o] = stderr > 0 ? point + stderr * zLo : point;
        out.upper[o] = stderr > 0 ? point + stderr * zHi : point;
        out.stderr[o] = stderr;
      }
    }
    return out;
  }
}
