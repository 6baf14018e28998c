// A LightGBM model laid out flat in WASM memory (layout: assembly/layout.ts) and evaluated there.
// The parsed splits (categorical, missing type, default side) are folded here once into the node
// kinds the core tests (where NaN goes, bitset offsets), so its inner loop decodes nothing.
import { MissingType, type LgbModel, type LgbTree, type OutputTransform } from "../model/lightgbm/model.ts";
import type { GbdtEvaluator } from "../model/evaluator.ts";
import { ModelFormatError } from "../model/errors.ts";
import * as L from "../../assembly/layout.ts";
import { ModelMemory, type Scratch, type WasmCore } from "./core.ts";
import { leafCode, rootCodes, writeCode, writeLeafNode, type ChildCode } from "./codes.ts";

const TRANSFORM_CODES: Record<OutputTransform["kind"], number> = {
  identity: L.TRANSFORM_IDENTITY,
  sigmoid: L.TRANSFORM_SIGMOID,
  softmax: L.TRANSFORM_SOFTMAX,
  ova: L.TRANSFORM_OVA,
  exp: L.TRANSFORM_EXP,
  log1pexp: L.TRANSFORM_LOG1PEXP,
  square: L.TRANSFORM_SQUARE,
};

/** The flat arrays the core reads, built once from the parsed model. */
interface Flat {
  /** Each tree's root as a child code. */
  roots: Uint8Array;
  /** Node kinds, a node's at its byte offset / 8 (every third byte), leaves' (0) below: node 0's is `tableOffset / 8` bytes in. */
  kinds: Uint8Array;
  /** Leaf nodes (leaf l at -(l + 1) * NODE_BYTES from the table), then the internal nodes. */
  nodes: ArrayBuffer;
  /** Bytes from the start of `nodes` to the table (offset 0). */
  tableOffset: number;
  catWords: Uint32Array;
  leafBase: Int32Array;
  nodeCount: Float64Array;
  leafCount: Float64Array;
  expected: Float64Array;
  linear: { info: ArrayBuffer; features: Int32Array; coeffs: Float64Array } | null;
  maxDepth: number;
  /** No categorical and no Zero-missing split: the core's cheaper decision applies. */
  plain: boolean;
  /** Every split numerical with missing type None and no linear tree: NaN acts as 0 everywhere. */
  nanAsZero: boolean;
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

/** A split's kind (NODE_* flags): where NaN goes, missing type Zero and its default side, categorical. */
function nodeKind(tree: LgbTree, i: number): number {
  if (tree.categorical[i]) return L.NODE_CATEGORICAL;
  const missing = tree.missingType[i];
  const defaultLeft = tree.defaultLeft[i] === 1;
  // NaN becomes 0 unless the missing type is NaN; with type Zero that 0 then goes the default
  // way, and with None it is compared like any 0.
  const nanLeft = missing === MissingType.None ? 0 <= tree.threshold[i] : defaultLeft;
  return (
    (nanLeft ? L.NODE_NAN_LEFT : 0) |
    (missing === MissingType.Zero ? L.NODE_ZERO_MISSING : 0) |
    (defaultLeft ? L.NODE_DEFAULT_LEFT : 0)
  );
}

function flatten(model: LgbModel): Flat {
  const trees = model.trees;
  const nNodes = trees.reduce((s, t) => s + t.numLeaves - 1, 0);
  const nLeaves = trees.reduce((s, t) => s + t.numLeaves, 0);
  const nWords = trees.reduce((s, t) => s + t.catThreshold.length, 0);
  const roots: ChildCode[] = [];
  const leafBase = new Int32Array(trees.length);
  const tableOffset = nLeaves * L.NODE_BYTES;
  const nodes = new ArrayBuffer(tableOffset + nNodes * L.NODE_BYTES);
  const nodeView = new DataView(nodes);
  const kinds = new Uint8Array(nodes.byteLength / 8);
  const leafCount = new Float64Array(nLeaves);
  const nodeCount = new Float64Array(nNodes);
  const catWords = new Uint32Array(Math.max(1, nWords));
  const expected = new Float64Array(trees.length);
  const anyLinear = trees.some((t) => t.isLinear);
  const linInfo = anyLinear ? new ArrayBuffer(nLeaves * L.LINEAR_LEAF_BYTES) : null;
  const linView = linInfo ? new DataView(linInfo) : null;
  const linFeatures: number[] = [];
  const linCoeffs: number[] = [];
  let nodeBase = 0;
  let leaves = 0;
  let words = 0;
  let maxDepth = 0;
  let plain = true;
  let nanAsZero = !anyLinear;
  trees.forEach((tree, t) => {
    const internal = tree.numLeaves - 1;
    // Byte offsets from the table: internal nodes above it, leaves below.
    const code = (c: number): ChildCode =>
      c >= 0 ? [(nodeBase + c) * L.NODE_BYTES, tree.splitFeature[c] * 8] : leafCode(leaves + ~c);
    roots.push(internal === 0 ? leafCode(leaves) : code(0));
    leafBase[t] = leaves;
    for (let i = 0; i < internal; i++) {
      const at = tableOffset + (nodeBase + i) * L.NODE_BYTES;
      if (tree.categorical[i]) {
        const begin = tree.catBoundaries[tree.threshold[i]];
        nodeView.setUint32(at + L.NODE_CAT_FIRST_WORD, words + begin, true);
        nodeView.setUint32(at + L.NODE_CAT_WORD_COUNT, tree.catBoundaries[tree.threshold[i] + 1] - begin, true);
        plain = false;
        nanAsZero = false;
      } else {
        if (tree.missingType[i] === MissingType.Zero) plain = false;
        if (tree.missingType[i] !== MissingType.None) nanAsZero = false;
        nodeView.setFloat64(at + L.NODE_THRESHOLD, tree.threshold[i], true);
      }
      writeCode(nodeView, at + L.NODE_LEFT, code(tree.leftChild[i]));
      writeCode(nodeView, at + L.NODE_RIGHT, code(tree.rightChild[i]));
      kinds[at / 8] = nodeKind(tree, i);
      nodeCount[nodeBase + i] = tree.internalCount[i];
    }
    for (let l = 0; l < tree.numLeaves; l++) {
      nodeView.setFloat64(writeLeafNode(nodeView, tableOffset, leaves + l) + L.LEAF_VALUE, tree.leafValue[l], true);
    }
    leafCount.set(tree.leafCount, leaves);
    catWords.set(tree.catThreshold, words);
    expected[t] = expectedValue(tree.numLeaves, tree.leafValue, tree.leafCount, tree.internalCount[0]);
    if (internal > 0) maxDepth = Math.max(maxDepth, depthOf(tree.leftChild, tree.rightChild, 0));
    if (linView) {
      for (let l = 0; l < tree.numLeaves; l++) {
        const at = (leaves + l) * L.LINEAR_LEAF_BYTES;
        const feats = tree.isLinear ? tree.leafFeatures[l] : new Int32Array(0);
        linView.setFloat64(at + L.LINEAR_CONST, tree.isLinear ? tree.leafConst[l] : tree.leafValue[l], true);
        linView.setInt32(at + L.LINEAR_START, linFeatures.length, true);
        linView.setInt32(at + L.LINEAR_COUNT, feats.length, true);
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
  return { roots: rootCodes(roots), nodes, tableOffset, kinds, catWords, leafBase, nodeCount, leafCount, expected, linear, maxDepth, plain, nanAsZero };
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
  private readonly work: Scratch;
  private readonly workBytes: number;

  private constructor(
    private readonly core: WasmCore,
    private readonly memory: ModelMemory,
    private readonly header: number,
    private readonly model: LgbModel,
    maxDepth: number,
  ) {
    this.numFeatures = model.numFeatures;
    this.numClass = model.numClass;
    this.numTrees = model.trees.length;
    this.input = memory.scratch();
    this.output = memory.scratch();
    this.path = memory.scratch();
    this.work = memory.scratch();
    this.workBytes = core.exports.gbdt_scratch_bytes(header);
    this.pathBytes = (((maxDepth + 2) * (maxDepth + 3)) / 2) * L.PATH_ELEMENT_BYTES;
  }

  /** Writes the model into WASM memory once; `dispose()` frees it. */
  static create(core: WasmCore, model: LgbModel): WasmGbdt {
    const flat = flatten(model);
    const memory = new ModelMemory(core, model.source);
    const put = (a: Block | ArrayBuffer | null) => memory.copy(a instanceof ArrayBuffer ? new Uint8Array(a) : a);
    const fields = {
      roots: put(flat.roots),
      nodes: put(flat.nodes) + flat.tableOffset,
      kinds: put(flat.kinds) + flat.tableOffset / 8,
      catWords: put(flat.catWords),
      leafBase: put(flat.leafBase),
      linear: put(flat.linear?.info ?? null),
      linFeat: put(flat.linear && flat.linear.features.length ? flat.linear.features : null),
      linCoef: put(flat.linear && flat.linear.coeffs.length ? flat.linear.coeffs : null),
      nodeCount: put(flat.nodeCount.length ? flat.nodeCount : null),
      leafCount: put(flat.leafCount),
      expected: put(flat.expected),
    };
    const t = model.transform;
    const header = memory.header(L.GBDT_HEADER_BYTES, ({ i32, f64 }) => {
      i32(L.GBDT_N_TREES, model.trees.length);
      i32(L.GBDT_N_CLASS, model.numClass);
      i32(L.GBDT_N_FEATURES, model.numFeatures);
      i32(L.GBDT_ROOTS, fields.roots);
      i32(L.GBDT_NODES, fields.nodes);
      i32(L.GBDT_CAT_WORDS, fields.catWords);
      i32(L.GBDT_LEAF_BASE, fields.leafBase);
      i32(L.GBDT_TRANSFORM, TRANSFORM_CODES[t.kind]);
      i32(L.GBDT_AVERAGE_OUTPUT, model.averageOutput ? 1 : 0);
      i32(L.GBDT_FLAGS, (flat.plain ? L.GBDT_FLAG_PLAIN : 0) | (flat.nanAsZero ? L.GBDT_FLAG_NAN_AS_ZERO : 0));
      f64(L.GBDT_SIGMOID, t.kind === "sigmoid" || t.kind === "ova" ? t.sigmoid : 1);
      i32(L.GBDT_LINEAR, fields.linear);
      i32(L.GBDT_LIN_FEATURES, fields.linFeat);
      i32(L.GBDT_LIN_COEFFS, fields.linCoef);
      i32(L.GBDT_NODE_COUNT, fields.nodeCount);
      i32(L.GBDT_LEAF_COUNT, fields.leafCount);
      i32(L.GBDT_MAX_DEPTH, flat.maxDepth);
      i32(L.GBDT_EXPECTED, fields.expected);
      i32(L.GBDT_KINDS, fields.kinds);
    });
    return new WasmGbdt(core, memory, header, model, flat.maxDepth);
  }

  /** Copies rows into the reused input block (the core filters them in place). */
  private load(rows: Float64Array, nRows: number): number {
    this.memory.check();
    const n = nRows * this.numFeatures;
    if (rows.length < n) {
      throw new RangeError(`expected ${nRows} rows x ${this.numFeatures} features (${n} values), got ${rows.length}`);
    }
    const ptr = this.input.ensure(n * 8);
    this.core.putF64(ptr, n === rows.length ? rows : rows.subarray(0, n));
    return ptr;
  }

  private run(
    fn: (model: number, rows: number, nRows: number, out: number, scratch: number) => void,
    rows: Float64Array,
    nRows: number,
    width: number,
  ): Float64Array {
    const input = this.load(rows, nRows);
    const out = this.output.ensure(nRows * width * 8);
    fn(this.header, input, nRows, out, this.work.ensure(this.workBytes));
    return this.core.takeF64(out, nRows * width);
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
    return this.core.takeF64(out, nRows * width);
  }

  dispose(): void {
    this.memory.dispose();
  }
}
