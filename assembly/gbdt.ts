// LightGBM ensemble evaluation over a flat model written once by the host (server/wasm/gbdt.ts);
// the header, node and flag layout is assembly/layout.ts. Child codes are global: >= 0 an internal
// node's byte offset in the node table (so that no multiply sits on the chain of dependent loads),
// < 0 the complement of a global leaf index.
import {
  GBDT_N_TREES, GBDT_N_CLASS, GBDT_N_FEATURES, GBDT_ROOTS, GBDT_NODES, GBDT_CAT_WORDS, GBDT_LEAF_BASE,
  GBDT_TRANSFORM, GBDT_AVERAGE_OUTPUT, GBDT_FLAGS, GBDT_FLAG_PLAIN, GBDT_SIGMOID, GBDT_LINEAR,
  GBDT_LIN_FEATURES, GBDT_LIN_COEFFS, GBDT_LEAF_VALUE,
  NODE_THRESHOLD, NODE_FEATURE, NODE_LEFT, NODE_RIGHT, NODE_KIND,
  NODE_NAN_LEFT, NODE_ZERO_MISSING, NODE_DEFAULT_LEFT, NODE_CATEGORICAL, NODE_CAT_WORDS_SHIFT,
  LINEAR_LEAF_BYTES, LINEAR_CONST, LINEAR_START, LINEAR_COUNT,
  TRANSFORM_IDENTITY, TRANSFORM_SIGMOID, TRANSFORM_SOFTMAX, TRANSFORM_OVA, TRANSFORM_EXP,
  TRANSFORM_LOG1PEXP, TRANSFORM_SQUARE,
} from "./layout";

// LightGBM's kZeroThreshold (the float 1e-35f as a double).
const K_ZERO: f64 = 1.0000000180025095e-35;

// Rows evaluated against one tree before moving to the next: the tree stays in cache and the
// independent rows give the CPU work to overlap.
const BLOCK: i32 = 64;

@inline function hdr(model: usize, slot: usize): i32 {
  return load<i32>(model + slot);
}

@inline function hptr(model: usize, slot: usize): usize {
  return <usize>load<u32>(model + slot);
}

/** LightGBM keeps only |x| > kZeroThreshold (or NaN) from a dense row; the rest is exactly 0. */
export function filterRows(rows: usize, count: i32): void {
  for (let i = 0; i < count; i++) {
    const p = rows + (<usize>i << 3);
    const x = load<f64>(p);
    if (Math.abs(x) <= K_ZERO) store<f64>(p, 0.0);
  }
}

/**
 * Whether the row at `row` goes left at `node`. `plain` (a constant at each call site) drops the
 * categorical and Zero-missing cases for models that have none: fewer instructions per visit.
 */
@inline function goesLeft(node: usize, row: usize, catWords: usize, plain: bool = false, noNaN: bool = false): bool {
  const x = load<f64>(row + (<usize>load<i32>(node, NODE_FEATURE) << 3));
  if (noNaN) return x <= load<f64>(node, NODE_THRESHOLD);
  const kind = load<i32>(node, NODE_KIND);
  let left: bool;
  if (plain) {
    left = x <= load<f64>(node, NODE_THRESHOLD);
    if (x != x) left = (kind & NODE_NAN_LEFT) != 0;
  } else if (kind & NODE_CATEGORICAL) {
    left = false;
    // NaN, negatives (after truncation toward zero) and values past int range go right.
    if (x > -1.0 && x < 2147483648.0) {
      const v = <u32>(<i32>x);
      const word = v >>> 5;
      if (word < <u32>(kind >>> NODE_CAT_WORDS_SHIFT)) {
        const w = load<u32>(catWords + ((<usize>(<u32>load<f64>(node, NODE_THRESHOLD)) + <usize>word) << 2));
        left = ((w >>> (v & 31)) & 1) != 0;
      }
    }
  } else {
    left = x <= load<f64>(node, NODE_THRESHOLD);
    if (x != x) left = (kind & NODE_NAN_LEFT) != 0;
    if ((kind & NODE_ZERO_MISSING) != 0 && x == 0.0) left = (kind & NODE_DEFAULT_LEFT) != 0;
  }
  return left;
}

/**
 * One decision: the child code taken from `node`. A branch, so that a lone row's traversal runs
 * ahead speculatively; rows in lockstep use `stepFlat`.
 */
@inline function step(node: usize, row: usize, catWords: usize): i32 {
  return goesLeft(node, row, catWords) ? load<i32>(node, NODE_LEFT) : load<i32>(node, NODE_RIGHT);
}

/** `step` with a select instead of a branch: which way a row goes is unpredictable. */
@inline function stepFlat(node: usize, row: usize, catWords: usize, plain: bool, noNaN: bool): i32 {
  // Both children are loaded before the decision is known, off the chain of dependent loads.
  const left = load<i32>(node, NODE_LEFT);
  const right = load<i32>(node, NODE_RIGHT);
  return select(left, right, goesLeft(node, row, catWords, plain, noNaN));
}

/** `step` for callers holding only the model (TreeSHAP picks its hot child with it). */
export function stepFrom(model: usize, node: usize, row: usize): i32 {
  return step(node, row, hptr(model, GBDT_CAT_WORDS));
}

/** One lockstep move: a row already at a leaf (negative code) stays there. */
@inline function advance(nodes: usize, code: i32, row: usize, catWords: usize, plain: bool, noNaN: bool): i32 {
  const next = stepFlat(nodes + <usize>max(code, 0), row, catWords, plain, noNaN);
  return select(next, code, code >= 0);
}

/** The leaf code reached by a row from `root`. */
@inline function descend(nodes: usize, root: i32, row: usize, catWords: usize): i32 {
  let code = root;
  while (code >= 0) code = step(nodes + <usize>code, row, catWords);
  return code;
}

/** A linear leaf: const + sum coeff * x, or the plain leaf value when one of its features is NaN. */
function linearOutput(model: usize, leaf: i32, row: usize): f64 {
  const info = hptr(model, GBDT_LINEAR) + <usize>leaf * LINEAR_LEAF_BYTES;
  const start = load<i32>(info, LINEAR_START);
  const count = load<i32>(info, LINEAR_COUNT);
  const feats = hptr(model, GBDT_LIN_FEATURES);
  const coefs = hptr(model, GBDT_LIN_COEFFS);
  let out = load<f64>(info, LINEAR_CONST);
  for (let i = 0; i < count; i++) {
    const x = load<f64>(row + (<usize>load<i32>(feats + (<usize>(start + i) << 2)) << 3));
    if (x != x) return load<f64>(hptr(model, GBDT_LEAF_VALUE) + (<usize>leaf << 3));
    out += load<f64>(coefs + (<usize>(start + i) << 3)) * x;
  }
  return out;
}

@inline function leafOutput(model: usize, leaf: i32, row: usize, linear: bool): f64 {
  return linear ? linearOutput(model, leaf, row) : load<f64>(hptr(model, GBDT_LEAF_VALUE) + (<usize>leaf << 3));
}

/** Raw scores (nRows x nClass) of rows already filtered: trees summed in file order in float64. */
function rawScores(model: usize, rows: usize, nRows: i32, out: usize): void {
  const nFeat = hdr(model, GBDT_N_FEATURES);
  const nClass = hdr(model, GBDT_N_CLASS);
  memory.fill(out, 0, <usize>(nRows * nClass) << 3);
  for (let r0 = 0; r0 < nRows; r0 += BLOCK) {
    const nb = min(BLOCK, nRows - r0);
    const block = rows + (<usize>(r0 * nFeat) << 3);
    const acc = out + (<usize>(r0 * nClass) << 3);
    // A plain model on rows without NaN needs nothing but `x <= threshold` at each node.
    if ((hdr(model, GBDT_FLAGS) & GBDT_FLAG_PLAIN) == 0) blockScores(model, block, nb, acc, false, false);
    else if (hasNaN(block, nb * nFeat)) blockScores(model, block, nb, acc, true, false);
    else blockScores(model, block, nb, acc, true, true);
  }
}

function hasNaN(values: usize, count: i32): bool {
  for (let i = 0; i < count; i++) {
    const x = load<f64>(values + (<usize>i << 3));
    if (x != x) return true;
  }
  return false;
}

/** Adds every tree's output to a block of at most BLOCK rows. */
@inline function blockScores(model: usize, base: usize, nb: i32, out: usize, plain: bool, noNaN: bool): void {
  const nTrees = hdr(model, GBDT_N_TREES);
  const nClass = hdr(model, GBDT_N_CLASS);
  const nFeat = hdr(model, GBDT_N_FEATURES);
  const roots = hptr(model, GBDT_ROOTS);
  const nodes = hptr(model, GBDT_NODES);
  const catWords = hptr(model, GBDT_CAT_WORDS);
  const linear = hptr(model, GBDT_LINEAR) != 0;
  const rowBytes = <usize>nFeat << 3;
  {
    for (let t = 0; t < nTrees; t++) {
      const root = load<i32>(roots + (<usize>t << 2));
      const acc = out + (<usize>(t % nClass) << 3);
      const stride = <usize>nClass << 3;
      // Eight rows in lockstep.
      for (let r = 0; r + 7 < nb; r += 8) {
        const row0 = base + <usize>r * rowBytes;
        const row1 = row0 + rowBytes;
        const row2 = row1 + rowBytes;
        const row3 = row2 + rowBytes;
        const row4 = row3 + rowBytes;
        const row5 = row4 + rowBytes;
        const row6 = row5 + rowBytes;
        const row7 = row6 + rowBytes;
        let a = root;
        let b = root;
        let c = root;
        let d = root;
        let e = root;
        let f = root;
        let g = root;
        let h = root;
        while ((a & b & c & d & e & f & g & h) >= 0) {
          a = advance(nodes, a, row0, catWords, plain, noNaN);
          b = advance(nodes, b, row1, catWords, plain, noNaN);
          c = advance(nodes, c, row2, catWords, plain, noNaN);
          d = advance(nodes, d, row3, catWords, plain, noNaN);
          e = advance(nodes, e, row4, catWords, plain, noNaN);
          f = advance(nodes, f, row5, catWords, plain, noNaN);
          g = advance(nodes, g, row6, catWords, plain, noNaN);
          h = advance(nodes, h, row7, catWords, plain, noNaN);
        }
        let p = acc + <usize>r * stride;
        store<f64>(p, load<f64>(p) + leafOutput(model, ~a, row0, linear));
        p += stride;
        store<f64>(p, load<f64>(p) + leafOutput(model, ~b, row1, linear));
        p += stride;
        store<f64>(p, load<f64>(p) + leafOutput(model, ~c, row2, linear));
        p += stride;
        store<f64>(p, load<f64>(p) + leafOutput(model, ~d, row3, linear));
        p += stride;
        store<f64>(p, load<f64>(p) + leafOutput(model, ~e, row4, linear));
        p += stride;
        store<f64>(p, load<f64>(p) + leafOutput(model, ~f, row5, linear));
        p += stride;
        store<f64>(p, load<f64>(p) + leafOutput(model, ~g, row6, linear));
        p += stride;
        store<f64>(p, load<f64>(p) + leafOutput(model, ~h, row7, linear));
      }
    }
  }
  // Rows left over (a single-row call is all leftover): four trees in lockstep instead.
  for (let r = nb & ~7; r < nb; r++) {
    rowAcrossTrees(model, base + <usize>r * rowBytes, out + <usize>(r * nClass) * 8, plain, noNaN);
  }
}

@inline function rowAcrossTrees(model: usize, row: usize, out: usize, plain: bool, noNaN: bool): void {
  const nTrees = hdr(model, GBDT_N_TREES);
  const nClass = hdr(model, GBDT_N_CLASS);
  const roots = hptr(model, GBDT_ROOTS);
  const nodes = hptr(model, GBDT_NODES);
  const catWords = hptr(model, GBDT_CAT_WORDS);
  const linear = hptr(model, GBDT_LINEAR) != 0;
  let t = 0;
  for (; t + 3 < nTrees; t += 4) {
    const r = roots + (<usize>t << 2);
    let a = load<i32>(r);
    let b = load<i32>(r, 4);
    let c = load<i32>(r, 8);
    let d = load<i32>(r, 12);
    while ((a & b & c & d) >= 0) {
      a = advance(nodes, a, row, catWords, plain, noNaN);
      b = advance(nodes, b, row, catWords, plain, noNaN);
      c = advance(nodes, c, row, catWords, plain, noNaN);
      d = advance(nodes, d, row, catWords, plain, noNaN);
    }
    // Added in tree order, each to its class.
    let p = out + (<usize>(t % nClass) << 3);
    store<f64>(p, load<f64>(p) + leafOutput(model, ~a, row, linear));
    p = out + (<usize>((t + 1) % nClass) << 3);
    store<f64>(p, load<f64>(p) + leafOutput(model, ~b, row, linear));
    p = out + (<usize>((t + 2) % nClass) << 3);
    store<f64>(p, load<f64>(p) + leafOutput(model, ~c, row, linear));
    p = out + (<usize>((t + 3) % nClass) << 3);
    store<f64>(p, load<f64>(p) + leafOutput(model, ~d, row, linear));
  }
  for (; t < nTrees; t++) {
    const p = out + (<usize>(t % nClass) << 3);
    const leaf = ~descend(nodes, load<i32>(roots + (<usize>t << 2)), row, catWords);
    store<f64>(p, load<f64>(p) + leafOutput(model, leaf, row, linear));
  }
}

export function gbdt_predict_raw(model: usize, rows: usize, nRows: i32, out: usize): void {
  filterRows(rows, nRows * hdr(model, GBDT_N_FEATURES));
  rawScores(model, rows, nRows, out);
}

@inline function sigmoid(s: f64, raw: f64): f64 {
  return 1.0 / (1.0 + Math.exp(-s * raw));
}

/** The objective's output transform, in place over nRows x nClass (after average_output). */
function transform(model: usize, out: usize, nRows: i32): void {
  const nClass = hdr(model, GBDT_N_CLASS);
  const kind = hdr(model, GBDT_TRANSFORM);
  const s = load<f64>(model, GBDT_SIGMOID);
  const n = nRows * nClass;
  if (hdr(model, GBDT_AVERAGE_OUTPUT) != 0) {
    const iterations = <f64>(hdr(model, GBDT_N_TREES) / nClass);
    for (let i = 0; i < n; i++) {
      const p = out + (<usize>i << 3);
      store<f64>(p, load<f64>(p) / iterations);
    }
  }
  if (kind == TRANSFORM_SOFTMAX) {
    for (let r = 0; r < nRows; r++) {
      const row = out + (<usize>(r * nClass) << 3);
      let wmax = load<f64>(row);
      for (let k = 1; k < nClass; k++) wmax = max(load<f64>(row + (<usize>k << 3)), wmax);
      let wsum = 0.0;
      for (let k = 0; k < nClass; k++) {
        const e = Math.exp(load<f64>(row + (<usize>k << 3)) - wmax);
        store<f64>(row + (<usize>k << 3), e);
        wsum += e;
      }
      for (let k = 0; k < nClass; k++) {
        const p = row + (<usize>k << 3);
        store<f64>(p, load<f64>(p) / wsum);
      }
    }
    return;
  }
  if (kind == TRANSFORM_IDENTITY) return;
  for (let i = 0; i < n; i++) {
    const p = out + (<usize>i << 3);
    const raw = load<f64>(p);
    let v = raw;
    if (kind == TRANSFORM_SIGMOID || kind == TRANSFORM_OVA) v = sigmoid(s, raw);
    else if (kind == TRANSFORM_EXP) v = Math.exp(raw);
    else if (kind == TRANSFORM_LOG1PEXP) v = Math.log1p(Math.exp(raw));
    else if (kind == TRANSFORM_SQUARE) v = (raw > 0 ? 1.0 : raw < 0 ? -1.0 : 0.0) * raw * raw;
    store<f64>(p, v);
  }
}

export function gbdt_predict(model: usize, rows: usize, nRows: i32, out: usize): void {
  gbdt_predict_raw(model, rows, nRows, out);
  transform(model, out, nRows);
}

/** Leaf index (within its tree) of every tree for every row: nRows x nTrees. */
export function gbdt_predict_leaf(model: usize, rows: usize, nRows: i32, out: usize): void {
  const nTrees = hdr(model, GBDT_N_TREES);
  const nFeat = hdr(model, GBDT_N_FEATURES);
  filterRows(rows, nRows * nFeat);
  const roots = hptr(model, GBDT_ROOTS);
  const nodes = hptr(model, GBDT_NODES);
  const catWords = hptr(model, GBDT_CAT_WORDS);
  const leafBase = hptr(model, GBDT_LEAF_BASE);
  for (let r = 0; r < nRows; r++) {
    const row = rows + (<usize>(r * nFeat) << 3);
    for (let t = 0; t < nTrees; t++) {
      const leaf = ~descend(nodes, load<i32>(roots + (<usize>t << 2)), row, catWords);
      store<i32>(out + (<usize>(r * nTrees + t) << 2), leaf - load<i32>(leafBase + (<usize>t << 2)));
    }
  }
}
