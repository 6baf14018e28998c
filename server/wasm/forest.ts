// A causal forest laid out flat in WASM memory (layout: assembly/layout.ts) and evaluated there.
import type { CausalForest } from "../model/causal/model.ts";
import { contrastVectors, defaultContrasts } from "../model/causal/contrasts.ts";
import { ndtri } from "../model/causal/normal.ts";
import type { Contrast, EffectResult, ForestEvaluator } from "../model/evaluator.ts";
import * as L from "../../assembly/layout.ts";
import { ModelMemory, type Scratch, type WasmCore } from "./core.ts";
import { leafCode, rootCodes, writeCode, writeLeafNode, type ChildCode } from "./codes.ts";

/**
 * Nodes for the core: internal nodes renumbered densely (leaves take no room among them), and below
 * the table one node per leaf row, pointing at itself and at the row's statistics.
 */
function flattenNodes(forest: CausalForest): { roots: Uint8Array; nodes: ArrayBuffer; tableOffset: number } {
  const { treeNodeOffsets: off, childrenLeft, childrenRight, feature, threshold, leafIndex } = forest;
  const p = forest.nOutputs;
  const statsBytes = (p + (p * (p + 1)) / 2) * 8;
  const nLeaves = forest.leafAlpha.length / p;
  const n = off[forest.nTrees];
  const dense = new Int32Array(n);
  let internal = 0;
  for (let g = 0; g < n; g++) dense[g] = childrenLeft[g] === -1 ? -1 : internal++;
  const tableOffset = nLeaves * L.NODE_BYTES;
  const nodes = new ArrayBuffer(tableOffset + internal * L.NODE_BYTES);
  const view = new DataView(nodes);
  for (let l = 0; l < nLeaves; l++) {
    view.setInt32(writeLeafNode(view, tableOffset, l) + L.FOREST_LEAF_STATS_OFFSET, l * statsBytes, true);
  }
  const code = (tree: number, local: number): ChildCode => {
    const g = off[tree] + local;
    return dense[g] < 0 ? leafCode(leafIndex[g]) : [dense[g] * L.NODE_BYTES, feature[g] * 8];
  };
  const roots: ChildCode[] = [];
  for (let t = 0; t < forest.nTrees; t++) {
    roots.push(code(t, 0));
    for (let g = off[t]; g < off[t + 1]; g++) {
      if (dense[g] < 0) continue;
      const at = tableOffset + dense[g] * L.NODE_BYTES;
      view.setFloat64(at + L.NODE_THRESHOLD, threshold[g], true);
      writeCode(view, at + L.NODE_LEFT, code(t, childrenLeft[g]));
      writeCode(view, at + L.NODE_RIGHT, code(t, childrenRight[g]));
    }
  }
  return { roots: rootCodes(roots), nodes, tableOffset };
}

/** Per leaf: alpha, then the upper triangle of its Jacobian row by row (FOREST_LEAF_STATS). */
function packLeafStats(forest: CausalForest): Float64Array {
  const p = forest.nOutputs;
  const width = p + (p * (p + 1)) / 2;
  const n = forest.leafAlpha.length / p;
  const out = new Float64Array(n * width);
  for (let l = 0; l < n; l++) {
    let k = l * width;
    for (let i = 0; i < p; i++) out[k++] = forest.leafAlpha[l * p + i];
    for (let i = 0; i < p; i++) for (let j = i; j < p; j++) out[k++] = forest.leafJac[l * p * p + i * p + j];
  }
  return out;
}

export class WasmForest implements ForestEvaluator {
  readonly numFeatures: number;
  readonly arms: string[];
  readonly control: string;
  private readonly input: Scratch;
  private readonly output: Scratch;
  private readonly work: Scratch;
  private readonly q: Scratch;
  private readonly defaults: Contrast[];
  private readonly defaultQ: Float64Array;
  private readonly quantiles = new Map<number, [number, number]>();

  private constructor(
    private readonly core: WasmCore,
    private readonly memory: ModelMemory,
    private readonly forest: CausalForest,
    private readonly header: number,
  ) {
    this.numFeatures = forest.nFeatures;
    this.arms = forest.treatmentColumns;
    this.control = forest.control;
    this.input = memory.scratch();
    this.output = memory.scratch();
    this.work = memory.scratch();
    this.q = memory.scratch();
    this.defaults = defaultContrasts(forest);
    this.defaultQ = contrastVectors(forest, this.defaults);
  }

  static create(core: WasmCore, forest: CausalForest): WasmForest {
    const { roots, nodes, tableOffset } = flattenNodes(forest);
    const so = forest.subforestOffsets;
    const memory = new ModelMemory(core, forest.source);
    const fields = {
      roots: memory.copy(roots),
      nodes: memory.copy(new Uint8Array(nodes)) + tableOffset,
      stats: memory.copy(packLeafStats(forest)),
      subforests: memory.copy(so),
    };
    const header = memory.header(L.FOREST_HEADER_BYTES, ({ i32 }) => {
      i32(L.FOREST_N_TREES, forest.nTrees);
      i32(L.FOREST_N_OUTPUTS, forest.nOutputs);
      i32(L.FOREST_N_FEATURES, forest.nFeatures);
      i32(L.FOREST_ROOTS, fields.roots);
      i32(L.FOREST_NODES, fields.nodes);
      i32(L.FOREST_LEAF_STATS, fields.stats);
      i32(L.FOREST_SUBFOREST_OFFSETS, fields.subforests);
      i32(L.FOREST_N_SUBFORESTS, so.length - 1);
      i32(L.FOREST_SUBFOREST_SIZE, so[1] - so[0]);
    });
    return new WasmForest(core, memory, forest, header);
  }

  /** The normal quantiles at alpha/2 and 1 - alpha/2, computed once per alpha. */
  private z(alpha: number): [number, number] {
    let z = this.quantiles.get(alpha);
    if (!z) {
      if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
      z = [ndtri(alpha / 2), ndtri(1 - alpha / 2)];
      if (this.quantiles.size < 64) this.quantiles.set(alpha, z);
    }
    return z;
  }

  effects(rows: Float64Array, nRows: number, alpha: number, contrasts?: Contrast[]): EffectResult {
    this.memory.check();
    const list = contrasts ?? this.defaults;
    const qs = contrasts ? contrastVectors(this.forest, contrasts) : this.defaultQ;
    const [zLo, zHi] = this.z(alpha);
    const n = nRows * this.numFeatures;
    if (rows.length < n) throw new RangeError(`expected ${nRows} rows x ${this.numFeatures} features (${n} values), got ${rows.length}`);
    const nc = list.length;
    const core = this.core;
    const input = this.input.ensure(n * 8);
    const qPtr = this.q.ensure(qs.byteLength);
    const out = this.output.ensure(nRows * nc * L.EFFECT_FIELDS * 8);
    const work = this.work.ensure(core.exports.forest_scratch_bytes(this.header, nc));
    core.putF64(input, n === rows.length ? rows : rows.subarray(0, n));
    core.putF64(qPtr, qs);
    core.exports.forest_effects(this.header, input, nRows, qPtr, nc, zLo, zHi, out, work);
    const heap = core.heapF64();
    const base = out >>> 3;
    const result: EffectResult = {
      nRows,
      contrasts: list,
      effect: new Float64Array(nRows * nc),
      lower: new Float64Array(nRows * nc),
      upper: new Float64Array(nRows * nc),
      stderr: new Float64Array(nRows * nc),
    };
    for (let i = 0; i < nRows * nc; i++) {
      const at = base + i * L.EFFECT_FIELDS;
      result.effect[i] = heap[at + L.EFFECT_POINT];
      result.lower[i] = heap[at + L.EFFECT_LOWER];
      result.upper[i] = heap[at + L.EFFECT_UPPER];
      result.stderr[i] = heap[at + L.EFFECT_STDERR];
    }
    return result;
  }

  dispose(): void {
    this.memory.dispose();
  }
}
