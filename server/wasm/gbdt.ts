// A LightGBM model laid out flat in WASM memory (layout: assembly/gbdt.ts) and evaluated there.
// Split kinds are decoded here once (missing type, default side, where NaN goes, bitset offsets),
// so the core's inner loop never looks at decision_type.
import type { LgbModel, OutputTransform } from "../model/lightgbm/model.ts";
import type { GbdtEvaluator } from "../model/evaluator.ts";
import { ModelFormatError } from "../model/errors.ts";
import { Scratch, type WasmCore } from "./core.ts";

const NAN_LEFT = 1;
const ZERO_MISSING = 2;
const DEFAULT_LEFT = 4;
const CATEGORICAL = 8;
const NODE_BYTES = 24;
const HEADER_BYTES = 80;

const TRANSFORM_CODES: Record<OutputTransform["kind"], number> = {
  identity: 0,
  sigmoid: 1,
  softmax: 2,
  ova: 3,
  exp: 4,
  log1pexp: 5,
  square: 6,
};

/** The flat arrays the core reads, built once from the parsed model. */
interface Flat {
  roots: Int32Array;
  nodes: ArrayBuffer;
  leafValue: Float64Array;
  catWords: Uint32Array;
  leafBase: Int32Array;
  nodeCount: Float64Array;
  leafCount: Float64Array;
  expected: Float64Array;
  linear: { info: ArrayBuffer; features: Int32Array; coeffs: Float64Array } | null;
  maxDepth: number;
  /** No categorical and no Zero-missing split: the core's cheaper decision applies. */
  plain: boolean;
}

function depthOf(left: Int32Array, right: Int32Array, node: number): number {
  const l = left[node] < 0 ? 1 : 1 + depthOf(left, right, left[node]);
  const r = right[node] < 0 ? 1 : 1 + depthOf(left, right, right[node]);
  return Math.max(l, r);
}

/** LightGBM's Tree::ExpectedValue, same summation order. */
function expectedValue(numLeaves: number, leafValue: Float64Array, leafCount: Float64Array, total: number): number {
  if (numLeaves === 1) return leafValue[0];
  let e = 0;
  for (let i = 0; i < numLeaves; i++) e += (leafCount[i] / total) * leafValue[i];
  return e;
}

function flatten(model: LgbModel): Flat {
  const trees = model.trees;
  const nNodes = trees.reduce((s, t) => s + t.numLeaves - 1, 0);
  const nLeaves = trees.reduce((s, t) => s + t.numLeaves, 0);
  const nWords = trees.reduce((s, t) => s + t.catThreshold.length, 0);
  const roots = new Int32Array(trees.length);
  const leafBase = new Int32Array(trees.length);
  const nodes = new ArrayBuffer(Math.max(1, nNodes) * NODE_BYTES);
  const nodeView = new DataView(nodes);
  const leafValue = new Float64Array(nLeaves);
  const leafCount = new Float64Array(nLeaves);
  const nodeCount = new Float64Array(nNodes);
  const catWords = new Uint32Array(Math.max(1, nWords));
  const expected = new Float64Array(trees.length);
  const anyLinear = trees.some((t) => t.isLinear);
  const linInfo = anyLinear ? new ArrayBuffer(nLeaves * 16) : null;
  const linView = linInfo ? new DataView(linInfo) : null;
  const linFeatures: number[] = [];
  const linCoeffs: number[] = [];
  let nodeBase = 0;
  let leaves = 0;
  let words = 0;
  let maxDepth = 0;
  let plain = true;
  trees.forEach((tree, t) => {
    const internal = tree.numLeaves - 1;
    // Internal nodes by byte offset (the core adds it to the table's address), leaves by ~index.
    const code = (c: number) => (c >= 0 ? (nodeBase + c) * NODE_BYTES : ~(leaves + ~c));
    roots[t] = internal === 0 ? ~leaves : nodeBase * NODE_BYTES;
    leafBase[t] = leaves;
    for (let i = 0; i < internal; i++) {
      const dt = tree.decisionType[i];
      const at = (nodeBase + i) * NODE_BYTES;
      let kind: number;
      let threshold = tree.threshold[i];
      if (dt & 1) {
        const c = threshold;
        const begin = tree.catBoundaries[c];
        kind = CATEGORICAL | ((tree.catBoundaries[c + 1] - begin) << 8);
        threshold = words + begin;
        plain = false;
      } else {
        const defaultLeft = (dt & 2) !== 0;
        const missing = (dt >> 2) & 3;
        if (missing === 1) plain = false;
        // NaN becomes 0 unless the missing type is NaN; with type Zero that 0 then goes the
        // default way, and with None it is compared like any 0.
        const nanLeft = missing === 0 ? 0 <= threshold : defaultLeft;
        kind = (nanLeft ? NAN_LEFT : 0) | (missing === 1 ? ZERO_MISSING : 0) | (defaultLeft ? DEFAULT_LEFT : 0);
      }
      nodeView.setFloat64(at, threshold, true);
      nodeView.setInt32(at + 8, tree.splitFeature[i], true);
      nodeView.setInt32(at + 12, code(tree.leftChild[i]), true);
      nodeView.setInt32(at + 16, code(tree.rightChild[i]), true);
      nodeView.setInt32(at + 20, kind, true);
      nodeCount[nodeBase + i] = tree.internalCount[i];
    }
    leafValue.set(tree.leafValue, leaves);
    leafCount.set(tree.leafCount, leaves);
    catWords.set(tree.catThreshold, words);
    expected[t] = expectedValue(tree.numLeaves, tree.leafValue, tree.leafCount, tree.internalCount[0]);
    if (internal > 0) maxDepth = Math.max(maxDepth, depthOf(tree.leftChild, tree.rightChild, 0));
    if (linView) {
      for (let l = 0; l < tree.numLeaves; l++) {
        const at = (leaves + l) * 16;
        const feats = tree.isLinear ? tree.leafFeatures[l] : new Int32Array(0);
        linView.setFloat64(at, tree.isLinear ? tree.leafConst[l] : tree.leafValue[l], true);
        linView.setInt32(at + 8, linFeatures.length, true);
        linView.setInt32(at + 12, feats.length, true);
        linFeatures.push(...feats);
        if (tree.isLinear) linCoeffs.push(...tree.leafCoeff[l]);
      }
    }
    nodeBase += internal;
    leaves += tree.numLeaves;
    words += tree.catThreshold.length;
  });
  const linear = linInfo
    ? { info: linInfo, features: Int32Array.from(linFeatures), coeffs: Float64Array.from(linCoeffs) }
    : null;
  return { roots, nodes, leafValue, catWords, leafBase, nodeCount, leafCount, expected, linear, maxDepth, plain };
}

type Block = Float64Array | Int32Array | Uint32Array | Uint8Array;

export class WasmGbdt implements GbdtEvaluator {
  readonly numFeatures: number;
  readonly numClass: number;
  readonly numTrees: number;
  private readonly input: Scratch;
  private readonly output: Scratch;
  private readonly path: Scratch;
  private readonly pathBytes: number;
  private disposed = false;

  private constructor(
    private readonly core: WasmCore,
    private readonly model: LgbModel,
    private readonly header: number,
    private readonly blocks: number[],
    maxDepth: number,
  ) {
    this.numFeatures = model.numFeatures;
    this.numClass = model.numClass;
    this.numTrees = model.trees.length;
    this.input = new Scratch(core);
    this.output = new Scratch(core);
    this.path = new Scratch(core);
    this.pathBytes = (((maxDepth + 2) * (maxDepth + 3)) / 2) * 32;
  }

  /** Writes the model into WASM memory once; `dispose()` frees it. */
  static create(core: WasmCore, model: LgbModel): WasmGbdt {
    const flat = flatten(model);
    const blocks: number[] = [];
    const put = (a: Block | ArrayBuffer | null) => {
      if (a === null) return 0;
      const ptr = core.copyIn(a instanceof ArrayBuffer ? new Uint8Array(a) : a);
      blocks.push(ptr);
      return ptr;
    };
    const fields = {
      roots: put(flat.roots),
      nodes: put(flat.nodes),
      leafValue: put(flat.leafValue),
      catWords: put(flat.catWords),
      leafBase: put(flat.leafBase),
      linear: put(flat.linear?.info ?? null),
      linFeat: put(flat.linear && flat.linear.features.length ? flat.linear.features : null),
      linCoef: put(flat.linear && flat.linear.coeffs.length ? flat.linear.coeffs : null),
      nodeCount: put(flat.nodeCount.length ? flat.nodeCount : null),
      leafCount: put(flat.leafCount),
      expected: put(flat.expected),
    };
    const header = core.alloc(HEADER_BYTES);
    blocks.push(header);
    const h = new DataView(core.buffer, header, HEADER_BYTES);
    const i32 = (off: number, v: number) => h.setInt32(off, v, true);
    i32(0, model.trees.length);
    i32(4, model.numClass);
    i32(8, model.numFeatures);
    i32(12, fields.roots);
    i32(16, fields.nodes);
    i32(20, fields.leafValue);
    i32(24, fields.catWords);
    i32(28, fields.leafBase);
    i32(32, TRANSFORM_CODES[model.transform.kind]);
    i32(36, model.averageOutput ? 1 : 0);
    const t = model.transform;
    h.setFloat64(40, t.kind === "sigmoid" || t.kind === "ova" ? t.sigmoid : 1, true);
    i32(48, fields.linear);
    i32(52, fields.linFeat);
    i32(56, fields.linCoef);
    i32(60, fields.nodeCount);
    i32(64, fields.leafCount);
    i32(68, flat.maxDepth);
    i32(72, fields.expected);
    i32(76, flat.plain ? 1 : 0);
    return new WasmGbdt(core, model, header, blocks, flat.maxDepth);
  }

  /** Copies rows into the reused input block (the core filters them in place). */
  private load(rows: Float64Array, nRows: number): number {
    this.check();
    const n = nRows * this.numFeatures;
    if (rows.length < n) {
      throw new RangeError(`expected ${nRows} rows x ${this.numFeatures} features (${n} values), got ${rows.length}`);
    }
    const ptr = this.input.ensure(n * 8);
    this.core.f64(ptr, n).set(n === rows.length ? rows : rows.subarray(0, n));
    return ptr;
  }

  private run(
    fn: (model: number, rows: number, nRows: number, out: number) => void,
    rows: Float64Array,
    nRows: number,
    width: number,
  ): Float64Array {
    const input = this.load(rows, nRows);
    const out = this.output.ensure(nRows * width * 8);
    fn(this.header, input, nRows, out);
    return this.core.f64(out, nRows * width).slice();
  }

  predictRaw(rows: Float64Array, nRows: number): Float64Array {
    return this.run(this.core.exports.gbdt_predict_raw, rows, nRows, this.numClass);
  }

  predict(rows: Float64Array, nRows: number): Float64Array {
    return this.run(this.core.exports.gbdt_predict, rows, nRows, this.numClass);
  }

  predictLeaf(rows: Float64Array, nRows: number): Int32Array {
    const input = this.load(rows, nRows);
    const out = this.output.ensure(nRows * this.numTrees * 4);
    this.core.exports.gbdt_predict_leaf(this.header, input, nRows, out);
    return this.core.i32(out, nRows * this.numTrees).slice();
  }

  predictContrib(rows: Float64Array, nRows: number): Float64Array {
    if (this.model.trees.some((t) => t.isLinear)) {
      throw new ModelFormatError(this.model.source, "is_linear", "SHAP contributions are not defined for linear trees (LightGBM refuses them too)");
    }
    const width = this.numClass * (this.numFeatures + 1);
    const input = this.load(rows, nRows);
    const out = this.output.ensure(nRows * width * 8);
    const path = this.path.ensure(this.pathBytes);
    this.core.exports.gbdt_predict_contrib(this.header, input, nRows, out, path);
    return this.core.f64(out, nRows * width).slice();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const ptr of this.blocks) this.core.free(ptr);
    this.input.release();
    this.output.release();
    this.path.release();
  }

  private check(): void {
    if (this.disposed) throw new Error(`${this.model.source}: evaluator used after dispose()`);
  }
}
