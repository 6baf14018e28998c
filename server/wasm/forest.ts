// A causal forest laid out flat in WASM memory (layout: assembly/forest.ts) and evaluated there.
import type { CausalForest } from "../model/causal/model.ts";
import { contrastVectors, defaultContrasts } from "../model/causal/contrasts.ts";
import { ndtri } from "../model/causal/normal.ts";
import type { Contrast, EffectResult, ForestEvaluator } from "../model/evaluator.ts";
import { Scratch, type WasmCore } from "./core.ts";

const NODE_BYTES = 24;
const HEADER_BYTES = 40;

function flattenNodes(forest: CausalForest): { roots: Int32Array; nodes: ArrayBuffer } {
  const { treeNodeOffsets: off, childrenLeft, childrenRight, feature, threshold, leafIndex } = forest;
  const n = off[forest.nTrees];
  const nodes = new ArrayBuffer(n * NODE_BYTES);
  const view = new DataView(nodes);
  // Leaves are never visited: a parent's child code points straight at the leaf's row (~row).
  const code = (tree: number, local: number) => {
    const g = off[tree] + local;
    return childrenLeft[g] === -1 ? ~leafIndex[g] : g * NODE_BYTES; // nodes by byte offset
  };
  const roots = new Int32Array(forest.nTrees);
  for (let t = 0; t < forest.nTrees; t++) {
    roots[t] = code(t, 0);
    for (let g = off[t]; g < off[t + 1]; g++) {
      if (childrenLeft[g] === -1) continue;
      const at = g * NODE_BYTES;
      view.setFloat64(at, threshold[g], true);
      view.setInt32(at + 8, feature[g], true);
      view.setInt32(at + 12, code(t, childrenLeft[g]), true);
      view.setInt32(at + 16, code(t, childrenRight[g]), true);
    }
  }
  return { roots, nodes };
}

/** Per leaf: alpha, then the upper triangle of its Jacobian row by row (see assembly/forest.ts). */
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
  private disposed = false;

  private constructor(
    private readonly core: WasmCore,
    private readonly forest: CausalForest,
    private readonly header: number,
    private readonly blocks: number[],
  ) {
    this.numFeatures = forest.nFeatures;
    this.arms = forest.treatmentColumns;
    this.control = forest.control;
    this.input = new Scratch(core);
    this.output = new Scratch(core);
    this.work = new Scratch(core);
    this.q = new Scratch(core);
    this.defaults = defaultContrasts(forest);
    this.defaultQ = contrastVectors(forest, this.defaults);
  }

  static create(core: WasmCore, forest: CausalForest): WasmForest {
    const { roots, nodes } = flattenNodes(forest);
    const blocks = [roots, new Uint8Array(nodes), packLeafStats(forest), new Uint8Array(8), forest.subforestOffsets].map((a) => core.copyIn(a));
    const header = core.alloc(HEADER_BYTES);
    blocks.push(header);
    const h = new DataView(core.buffer, header, HEADER_BYTES);
    const so = forest.subforestOffsets;
    [forest.nTrees, forest.nOutputs, forest.nFeatures, ...blocks.slice(0, 5), so.length - 1, so[1] - so[0]].forEach((v, i) =>
      h.setInt32(i * 4, v, true),
    );
    return new WasmForest(core, forest, header, blocks);
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
    if (this.disposed) throw new Error(`${this.forest.source}: evaluator used after dispose()`);
    const list = contrasts ?? this.defaults;
    const qs = contrasts ? contrastVectors(this.forest, contrasts) : this.defaultQ;
    const [zLo, zHi] = this.z(alpha);
    const n = nRows * this.numFeatures;
    if (rows.length < n) throw new RangeError(`expected ${nRows} rows x ${this.numFeatures} features (${n} values), got ${rows.length}`);
    const nc = list.length;
    const core = this.core;
    const input = this.input.ensure(n * 8);
    const qPtr = this.q.ensure(qs.byteLength);
    const out = this.output.ensure(nRows * nc * 4 * 8);
    const work = this.work.ensure(core.exports.forest_scratch_bytes(this.header, nc));
    core.f64(input, n).set(n === rows.length ? rows : rows.subarray(0, n));
    core.f64(qPtr, qs.length).set(qs);
    core.exports.forest_effects(this.header, input, nRows, qPtr, nc, zLo, zHi, out, work);
    const raw = core.f64(out, nRows * nc * 4);
    const result: EffectResult = {
      nRows,
      contrasts: list,
      effect: new Float64Array(nRows * nc),
      lower: new Float64Array(nRows * nc),
      upper: new Float64Array(nRows * nc),
      stderr: new Float64Array(nRows * nc),
    };
    for (let i = 0; i < nRows * nc; i++) {
      result.effect[i] = raw[i * 4];
      result.lower[i] = raw[i * 4 + 1];
      result.upper[i] = raw[i * 4 + 2];
      result.stderr[i] = raw[i * 4 + 3];
    }
    return result;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const ptr of this.blocks) this.core.free(ptr);
    for (const s of [this.input, this.output, this.work, this.q]) s.release();
  }
}
