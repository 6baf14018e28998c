// The plain TypeScript LightGBM evaluator: the format notes followed literally, one row and one
// tree at a time. It is the yardstick the WebAssembly core is checked against (one conformance
// suite runs both) and the baseline the benchmark measures it by.
import { ModelFormatError } from "../errors.ts";
import type { GbdtEvaluator } from "../evaluator.ts";
import { MissingType, type LgbModel, type LgbTree, type OutputTransform } from "./model.ts";

/** kZeroThreshold: the float 1e-35f as a double. */
export const K_ZERO_THRESHOLD = 1.0000000180025095e-35;

/** A dense row as LightGBM sees it: |x| <= kZeroThreshold becomes exactly 0 (NaN stays). */
function filtered(x: number): number {
  return Math.abs(x) <= K_ZERO_THRESHOLD ? 0 : x;
}

/** The child index LightGBM's Tree::Decision takes at `node` (>= 0 node, < 0 ~leaf). */
export function decision(tree: LgbTree, node: number, value: number): number {
  let x = value;
  if (tree.categorical[node]) {
    // Categorical: NaN and negatives go right; the value is truncated toward zero.
    if (Number.isNaN(x)) return tree.rightChild[node];
    const v = Math.trunc(x);
    if (v < 0 || v > 2147483647) return tree.rightChild[node];
    const c = tree.threshold[node];
    const begin = tree.catBoundaries[c];
    const word = Math.floor(v / 32);
    if (word < tree.catBoundaries[c + 1] - begin && (tree.catThreshold[begin + word] >>> (v % 32)) & 1) {
      return tree.leftChild[node];
    }
    return tree.rightChild[node];
  }
  const missing = tree.missingType[node];
  if (Number.isNaN(x) && missing !== MissingType.NaN) x = 0;
  if (
    (missing === MissingType.Zero && x >= -K_ZERO_THRESHOLD && x <= K_ZERO_THRESHOLD) ||
    (missing === MissingType.NaN && Number.isNaN(x))
  ) {
    return tree.defaultLeft[node] ? tree.leftChild[node] : tree.rightChild[node];
  }
  return x <= tree.threshold[node] ? tree.leftChild[node] : tree.rightChild[node];
}

export function leafOf(tree: LgbTree, row: Float64Array, offset: number): number {
  if (tree.numLeaves === 1) return 0;
  let node = 0;
  while (node >= 0) node = decision(tree, node, row[offset + tree.splitFeature[node]]);
  return ~node;
}

function treeOutput(tree: LgbTree, leaf: number, row: Float64Array, offset: number): number {
  if (!tree.isLinear) return tree.leafValue[leaf];
  const feats = tree.leafFeatures[leaf];
  const coeffs = tree.leafCoeff[leaf];
  let out = tree.leafConst[leaf];
  for (let i = 0; i < feats.length; i++) {
    const x = row[offset + feats[i]];
    if (Number.isNaN(x)) return tree.leafValue[leaf];
    out += coeffs[i] * x;
  }
  return out;
}

/** The objective's output transform of one row's K raw scores, in place. */
export function applyTransform(t: OutputTransform, v: Float64Array, at: number, k: number): void {
  switch (t.kind) {
    case "identity":
      return;
    case "softmax": {
      let wmax = v[at];
      for (let i = 1; i < k; i++) wmax = Math.max(v[at + i], wmax);
      let wsum = 0;
      for (let i = 0; i < k; i++) {
        v[at + i] = Math.exp(v[at + i] - wmax);
        wsum += v[at + i];
      }
      for (let i = 0; i < k; i++) v[at + i] /= wsum;
      return;
    }
  }
  for (let i = at; i < at + k; i++) {
    const raw = v[i];
    switch (t.kind) {
      case "sigmoid":
      case "ova":
        v[i] = 1 / (1 + Math.exp(-t.sigmoid * raw));
        break;
      case "exp":
        v[i] = Math.exp(raw);
        break;
      case "log1pexp":
        v[i] = Math.log1p(Math.exp(raw));
        break;
      case "square":
        v[i] = Math.sign(raw) * raw * raw;
        break;
    }
  }
}

// TreeSHAP unique paths (LightGBM's PathElement), struct of arrays: the path of every depth is
// stored back to back, as LightGBM lays them out.
class Paths {
  readonly feature: Int32Array;
  readonly zero: Float64Array;
  readonly one: Float64Array;
  readonly pweight: Float64Array;

  constructor(size: number) {
    this.feature = new Int32Array(size);
    this.zero = new Float64Array(size);
    this.one = new Float64Array(size);
    this.pweight = new Float64Array(size);
  }

  copy(to: number, from: number): void {
    this.feature[to] = this.feature[from];
    this.zero[to] = this.zero[from];
    this.one[to] = this.one[from];
    this.pweight[to] = this.pweight[from];
  }
}

function extendPath(p: Paths, base: number, depth: number, zero: number, one: number, feature: number): void {
  p.feature[base + depth] = feature;
  p.zero[base + depth] = zero;
  p.one[base + depth] = one;
  p.pweight[base + depth] = depth === 0 ? 1 : 0;
  for (let i = depth - 1; i >= 0; i--) {
    p.pweight[base + i + 1] += (one * p.pweight[base + i] * (i + 1)) / (depth + 1);
    p.pweight[base + i] = (zero * p.pweight[base + i] * (depth - i)) / (depth + 1);
  }
}

function unwindPath(p: Paths, base: number, depth: number, index: number): void {
  const one = p.one[base + index];
  const zero = p.zero[base + index];
  let next = p.pweight[base + depth];
  for (let i = depth - 1; i >= 0; --i) {
    if (one !== 0) {
      const tmp = p.pweight[base + i];
      p.pweight[base + i] = (next * (depth + 1)) / ((i + 1) * one);
      next = tmp - (p.pweight[base + i] * zero * (depth - i)) / (depth + 1);
    } else {
      p.pweight[base + i] = (p.pweight[base + i] * (depth + 1)) / (zero * (depth - i));
    }
  }
  for (let i = index; i < depth; ++i) {
    p.feature[base + i] = p.feature[base + i + 1];
    p.zero[base + i] = p.zero[base + i + 1];
    p.one[base + i] = p.one[base + i + 1];
  }
}

function unwoundPathSum(p: Paths, base: number, depth: number, index: number): number {
  const one = p.one[base + index];
  const zero = p.zero[base + index];
  let next = p.pweight[base + depth];
  let total = 0;
  for (let i = depth - 1; i >= 0; --i) {
    if (one !== 0) {
      const tmp = (next * (depth + 1)) / ((i + 1) * one);
      total += tmp;
      next = p.pweight[base + i] - tmp * zero * ((depth - i) / (depth + 1));
    } else {
      total += p.pweight[base + i] / zero / ((depth - i) / (depth + 1));
    }
  }
  return total;
}

function cover(tree: LgbTree, child: number): number {
  return child >= 0 ? tree.internalCount[child] : tree.leafCount[~child];
}

/** LightGBM's Tree::TreeSHAP. */
function treeShap(
  tree: LgbTree, row: Float64Array, offset: number, phi: Float64Array, phiAt: number,
  node: number, depth: number, path: Paths, parentBase: number,
  parentZero: number, parentOne: number, parentFeature: number,
): void {
  const base = parentBase + depth;
  for (let i = 0; i < depth; i++) path.copy(base + i, parentBase + i);
  extendPath(path, base, depth, parentZero, parentOne, parentFeature);
  if (node < 0) {
    for (let i = 1; i <= depth; ++i) {
      const w = unwoundPathSum(path, base, depth, i);
      phi[phiAt + path.feature[base + i]] += w * (path.one[base + i] - path.zero[base + i]) * tree.leafValue[~node];
    }
    return;
  }
  const feature = tree.splitFeature[node];
  const hot = decision(tree, node, row[offset + feature]);
  const cold = hot === tree.leftChild[node] ? tree.rightChild[node] : tree.leftChild[node];
  const w = cover(tree, node);
  let incomingZero = 1;
  let incomingOne = 1;
  let index = 0;
  for (; index <= depth; ++index) if (path.feature[base + index] === feature) break;
  if (index !== depth + 1) {
    incomingZero = path.zero[base + index];
    incomingOne = path.one[base + index];
    unwindPath(path, base, depth, index);
    depth -= 1;
  }
  treeShap(tree, row, offset, phi, phiAt, hot, depth + 1, path, base, (cover(tree, hot) / w) * incomingZero, incomingOne, feature);
  treeShap(tree, row, offset, phi, phiAt, cold, depth + 1, path, base, (cover(tree, cold) / w) * incomingZero, 0, feature);
}

function expectedValue(tree: LgbTree): number {
  if (tree.numLeaves === 1) return tree.leafValue[0];
  let e = 0;
  for (let i = 0; i < tree.numLeaves; i++) e += (tree.leafCount[i] / tree.internalCount[0]) * tree.leafValue[i];
  return e;
}

export class ReferenceGbdt implements GbdtEvaluator {
  readonly numFeatures: number;
  readonly numClass: number;
  readonly numTrees: number;

  constructor(private readonly model: LgbModel) {
    this.numFeatures = model.numFeatures;
    this.numClass = model.numClass;
    this.numTrees = model.trees.length;
  }

  private rows(rows: Float64Array, nRows: number): Float64Array {
    const n = nRows * this.numFeatures;
    if (rows.length < n) throw new RangeError(`expected ${nRows} rows x ${this.numFeatures} features (${n} values), got ${rows.length}`);
    return rows.subarray(0, n).map(filtered);
  }

  predictRaw(input: Float64Array, nRows: number): Float64Array {
    const rows = this.rows(input, nRows);
    const k = this.numClass;
    const out = new Float64Array(nRows * k);
    for (let r = 0; r < nRows; r++) {
      const offset = r * this.numFeatures;
      this.model.trees.forEach((tree, t) => {
        out[r * k + (t % k)] += treeOutput(tree, leafOf(tree, rows, offset), rows, offset);
      });
    }
    return out;
  }

  predict(rows: Float64Array, nRows: number): Float64Array {
    const out = this.predictRaw(rows, nRows);
    const k = this.numClass;
    const iterations = this.numTrees / k;
    for (let r = 0; r < nRows; r++) {
      if (this.model.averageOutput) for (let i = 0; i < k; i++) out[r * k + i] /= iterations;
      applyTransform(this.model.transform, out, r * k, k);
    }
    return out;
  }

  predictLeaf(input: Float64Array, nRows: number): Int32Array {
    const rows = this.rows(input, nRows);
    const out = new Int32Array(nRows * this.numTrees);
    for (let r = 0; r < nRows; r++) {
      this.model.trees.forEach((tree, t) => {
        out[r * this.numTrees + t] = leafOf(tree, rows, r * this.numFeatures);
      });
    }
    return out;
  }

  predictContrib(input: Float64Array, nRows: number): Float64Array {
    if (this.model.trees.some((t) => t.isLinear)) {
      throw new ModelFormatError(this.model.source, "is_linear", "SHAP contributions are not defined for linear trees (LightGBM refuses them too)");
    }
    const rows = this.rows(input, nRows);
    const k = this.numClass;
    const width = this.numFeatures + 1;
    const out = new Float64Array(nRows * k * width);
    // Depth never exceeds the leaf count; (L + 1)(L + 2) / 2 elements hold every nested path.
    const longest = Math.max(...this.model.trees.map((t) => t.numLeaves)) + 1;
    const path = new Paths((longest * (longest + 1)) / 2);
    for (let r = 0; r < nRows; r++) {
      this.model.trees.forEach((tree, t) => {
        const phiAt = (r * k + (t % k)) * width;
        out[phiAt + this.numFeatures] += expectedValue(tree);
        if (tree.numLeaves > 1) treeShap(tree, rows, r * this.numFeatures, out, phiAt, 0, 0, path, 0, 1, 1, -1);
      });
    }
    return out;
  }
}
