// LightGBM ensemble evaluation over a flat model written once by the host (server/wasm/gbdt.ts);
// the header, node and flag layout is assembly/layout.ts.
//
// A child code (walk.ts) holds the child's byte offset from the node table, >= 0 an internal node
// (so that no multiply sits on the chain of dependent loads), < 0 a leaf, and the byte offset in a
// row of the feature the child splits on. Leaves are nodes too, stored just below the table (leaf
// l at offset -(l + 1) * NODE_BYTES): their threshold slot holds the leaf value and both children
// point back at the leaf itself, so a row that has reached its leaf stays there at no cost and
// rows in lockstep need no test of whether each one is done.
import {
  GBDT_N_TREES, GBDT_N_CLASS, GBDT_N_FEATURES, GBDT_ROOTS, GBDT_NODES, GBDT_CAT_WORDS, GBDT_LEAF_BASE,
  GBDT_TRANSFORM, GBDT_AVERAGE_OUTPUT, GBDT_FLAGS, GBDT_FLAG_PLAIN, GBDT_FLAG_NAN_AS_ZERO, GBDT_SIGMOID,
  GBDT_LINEAR, GBDT_LIN_FEATURES, GBDT_LIN_COEFFS, GBDT_KINDS,
  NODE_BYTES, NODE_THRESHOLD, NODE_LEFT, NODE_RIGHT, LEAF_VALUE, NODE_CAT_FIRST_WORD, NODE_CAT_WORD_COUNT,
  NODE_NAN_LEFT, NODE_ZERO_MISSING, NODE_DEFAULT_LEFT, NODE_CATEGORICAL,
  LINEAR_LEAF_BYTES, LINEAR_CONST, LINEAR_START, LINEAR_COUNT,
  TRANSFORM_IDENTITY, TRANSFORM_SIGMOID, TRANSFORM_SOFTMAX, TRANSFORM_OVA, TRANSFORM_EXP,
  TRANSFORM_LOG1PEXP, TRANSFORM_SQUARE,
} from "./layout";
import { WALK_BLOCK, WALK_STACK_ENTRY, align16, walkBytes, toColumns, split, pushPending, pendingCode, pendingStart, pendingEnd, pendingList, nodeOffset, featureOffset, advancePlain } from "./walk";

// LightGBM's kZeroThreshold (the float 1e-35f as a double).
const K_ZERO: f64 = 1.0000000180025095e-35;

// Fewer rows than this walk the trees one by one: below it the split walk's work at each node
// costs more than it saves (measured on churn_model and speed_model: even at 48-64 rows).
const MIN_WALK_ROWS: i32 = 64;

@inline function hdr(model: usize, slot: usize): i32 {
  return load<i32>(model + slot);
}

@inline function hptr(model: usize, slot: usize): usize {
  return <usize>load<u32>(model + slot);
}

/** The kind (NODE_* flags) of the node at a child code (0 for a leaf). */
@inline function kindOf(kinds: usize, code: i64): i32 {
  return load<u8>(kinds + <usize>(nodeOffset(code) >> 3));
}

/** The global index of the leaf at a (negative) child code. */
@inline export function leafIndex(code: i64): i32 {
  return -nodeOffset(code) / NODE_BYTES - 1;
}

/**
 * LightGBM keeps only |x| > kZeroThreshold (or NaN) from a dense row; the rest is exactly 0. In a
 * model whose splits are all numerical with missing type None, NaN is compared as 0 at every node:
 * it becomes 0 here, once, and the rows take the plain path.
 */
export function filterRows(model: usize, rows: usize, count: i32): void {
  const nanAsZero = (hdr(model, GBDT_FLAGS) & GBDT_FLAG_NAN_AS_ZERO) != 0;
  for (let i = 0; i < count; i++) {
    const p = rows + (<usize>i << 3);
    const x = load<f64>(p);
    if (Math.abs(x) <= K_ZERO || (nanAsZero && x != x)) store<f64>(p, 0.0);
  }
}

/**
 * Whether a row whose value of the node's feature is `x` goes left at the node at `code`. `plain`
 * (a constant at each call site) drops the categorical and Zero-missing cases for models that
 * have none, and reads the node's kind only for a NaN.
 */
@inline function decide(x: f64, node: usize, code: i64, kinds: usize, catWords: usize, plain: bool): bool {
  let left: bool;
  if (plain) {
    left = x <= load<f64>(node, NODE_THRESHOLD);
    if (x != x) left = (kindOf(kinds, code) & NODE_NAN_LEFT) != 0;
    return left;
  }
  const kind = kindOf(kinds, code);
  if (kind & NODE_CATEGORICAL) {
    left = false;
    // NaN, negatives (after truncation toward zero) and values past int range go right.
    if (x > -1.0 && x < 2147483648.0) {
      const v = <u32>(<i32>x);
      const word = v >>> 5;
      if (word < load<u32>(node, NODE_CAT_WORD_COUNT)) {
        const w = load<u32>(catWords + ((<usize>load<u32>(node, NODE_CAT_FIRST_WORD) + <usize>word) << 2));
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

/** Whether the row at `row` goes left at the node at `code`. */
@inline function goesLeft(node: usize, code: i64, row: usize, kinds: usize, catWords: usize, plain: bool = false): bool {
  return decide(load<f64>(row + featureOffset(code)), node, code, kinds, catWords, plain);
}

/**
 * One decision: the child code taken from the node at `code`. A branch, so that a lone row's
 * traversal runs ahead speculatively; rows in lockstep use `advance`.
 */
@inline function step(nodes: usize, code: i64, row: usize, kinds: usize, catWords: usize): i64 {
  const node = nodes + <usize>nodeOffset(code);
  return goesLeft(node, code, row, kinds, catWords) ? load<i64>(node, NODE_LEFT) : load<i64>(node, NODE_RIGHT);
}

/** `step` for callers holding only the model (TreeSHAP picks its hot child with it). */
export function stepFrom(model: usize, code: i64, row: usize): i64 {
  return step(hptr(model, GBDT_NODES), code, row, hptr(model, GBDT_KINDS), hptr(model, GBDT_CAT_WORDS));
}

/** `advancePlain` (walk.ts) with the decision a model's splits and rows need. */
@inline function advance(nodes: usize, code: i64, row: usize, kinds: usize, catWords: usize, plain: bool, noNaN: bool): i64 {
  if (noNaN) return advancePlain(nodes, code, row);
  const node = nodes + <usize>nodeOffset(code);
  const left = load<i64>(node, NODE_LEFT);
  const right = load<i64>(node, NODE_RIGHT);
  return select(left, right, goesLeft(node, code, row, kinds, catWords, plain));
}

/** The leaf code reached by a row from `root`. */
@inline function descend(nodes: usize, root: i64, row: usize, kinds: usize, catWords: usize): i64 {
  let code = root;
  while (code >= 0) code = step(nodes, code, row, kinds, catWords);
  return code;
}

/** The value of the (constant) leaf at a child code. */
@inline function leafValue(nodes: usize, code: i64): f64 {
  return load<f64>(nodes + <usize>nodeOffset(code), LEAF_VALUE);
}

/** A linear leaf: const + sum coeff * x, or the plain leaf value when one of its features is NaN. */
function linearOutput(model: usize, nodes: usize, code: i64, row: usize): f64 {
  const info = hptr(model, GBDT_LINEAR) + <usize>leafIndex(code) * LINEAR_LEAF_BYTES;
  const start = load<i32>(info, LINEAR_START);
  const count = load<i32>(info, LINEAR_COUNT);
  const feats = hptr(model, GBDT_LIN_FEATURES);
  const coefs = hptr(model, GBDT_LIN_COEFFS);
  let out = load<f64>(info, LINEAR_CONST);
  for (let i = 0; i < count; i++) {
    const x = load<f64>(row + (<usize>load<i32>(feats + (<usize>(start + i) << 2)) << 3));
    if (x != x) return leafValue(nodes, code);
    out += load<f64>(coefs + (<usize>(start + i) << 3)) * x;
  }
  return out;
}

@inline function leafOutput(model: usize, nodes: usize, code: i64, row: usize, linear: bool): f64 {
  return linear ? linearOutput(model, nodes, code, row) : leafValue(nodes, code);
}

/** Raw scores (nRows x nClass) of rows already filtered: trees summed in file order in float64. */
function rawScores(model: usize, rows: usize, nRows: i32, out: usize, scratch: usize): void {
  const nFeat = hdr(model, GBDT_N_FEATURES);
  const nClass = hdr(model, GBDT_N_CLASS);
  const flags = hdr(model, GBDT_FLAGS);
  memory.fill(out, 0, <usize>(nRows * nClass) << 3);
  for (let r0 = 0; r0 < nRows; r0 += WALK_BLOCK) {
    const nb = min(WALK_BLOCK, nRows - r0);
    const block = rows + (<usize>(r0 * nFeat) << 3);
    const acc = out + (<usize>(r0 * nClass) << 3);
    // A plain model on rows without NaN needs nothing but `x <= threshold` at each node.
    if ((flags & GBDT_FLAG_PLAIN) == 0) blockScores(model, block, nb, acc, scratch, false, false);
    else if ((flags & GBDT_FLAG_NAN_AS_ZERO) == 0 && hasNaN(block, nb * nFeat)) blockScores(model, block, nb, acc, scratch, true, false);
    else blockScores(model, block, nb, acc, scratch, true, true);
  }
}

function hasNaN(values: usize, count: i32): bool {
  for (let i = 0; i < count; i++) {
    const x = load<f64>(values + (<usize>i << 3));
    if (x != x) return true;
  }
  return false;
}

/** Bytes of scratch `gbdt_predict` and `gbdt_predict_raw` need. */
export function gbdt_scratch_bytes(model: usize): i32 {
  return walkBytes(hdr(model, GBDT_N_FEATURES));
}

/** Adds every tree's output to a block of at most WALK_BLOCK rows, one tree at a time (walk.ts). */
@inline function blockScores(model: usize, base: usize, nb: i32, out: usize, scratch: usize, plain: bool, noNaN: bool): void {
  const nFeat = hdr(model, GBDT_N_FEATURES);
  const nClass = hdr(model, GBDT_N_CLASS);
  const stride = <usize>nClass << 3;
  const rowBytes = <usize>nFeat << 3;
  if (nb < MIN_WALK_ROWS) {
    for (let r = 0; r < nb; r++) rowAcrossTrees(model, base + <usize>r * rowBytes, out + <usize>r * stride, plain, noNaN);
    return;
  }
  const nTrees = hdr(model, GBDT_N_TREES);
  const roots = hptr(model, GBDT_ROOTS);
  const nodes = hptr(model, GBDT_NODES);
  const kinds = hptr(model, GBDT_KINDS);
  const catWords = hptr(model, GBDT_CAT_WORDS);
  const linear = hptr(model, GBDT_LINEAR) != 0;
  const cols = align16(scratch);
  const listA = cols + (<usize>(WALK_BLOCK * nFeat) << 3);
  const listB = listA + (<usize>WALK_BLOCK << 2);
  const stack = listB + (<usize>WALK_BLOCK << 2);
  toColumns(base, nb, nFeat, cols);
  for (let t = 0; t < nTrees; t++) {
    const acc = out + (<usize>(t % nClass) << 3);
    for (let r = 0; r < nb; r++) store<i32>(listA + (<usize>r << 2), r << 3);
    // The rows at `code` are src[s, e); its children's rows go to the same range of the other
    // list, which no pending node uses.
    let code = load<i64>(roots + (<usize>t << 3));
    let src = listA;
    let dst = listB;
    let s = 0;
    let e = nb;
    let sp = stack;
    while (true) {
      if (code >= 0) {
        const node = nodes + <usize>nodeOffset(code);
        // A feature's byte offset in a row times WALK_BLOCK is its column's offset.
        const col = cols + featureOffset(code) * <usize>WALK_BLOCK;
        const leftCode = load<i64>(node, NODE_LEFT);
        const rightCode = load<i64>(node, NODE_RIGHT);
        if ((leftCode & rightCode) < 0 && !linear) {
          // Both children are leaves (of constant output): each row adds one of their values, with
          // no split and no second pass over its leaf.
          const vl = leafValue(nodes, leftCode);
          const vr = leafValue(nodes, rightCode);
          const threshold = load<f64>(node, NODE_THRESHOLD);
          const end = src + (<usize>e << 2);
          for (let j = src + (<usize>s << 2); j < end; j += 4) {
            const r = <usize>load<u32>(j);
            const x = load<f64>(col + r);
            const p = acc + (r >> 3) * stride;
            store<f64>(p, load<f64>(p) + select(vl, vr, noNaN ? x <= threshold : decide(x, node, code, kinds, catWords, plain)));
          }
        } else {
          let mid: i32;
          if (noNaN) {
            mid = split(src, dst, s, e, col, load<f64>(node, NODE_THRESHOLD));
          } else {
            // `split` with the full decision (missing values, categories).
            let lo = dst + (<usize>s << 2);
            let hi = dst + (<usize>(e - 1) << 2);
            const end = src + (<usize>e << 2);
            for (let j = src + (<usize>s << 2); j < end; j += 4) {
              const r = load<u32>(j);
              const left = <usize>decide(load<f64>(col + <usize>r), node, code, kinds, catWords, plain) << 2;
              store<u32>(lo, r);
              store<u32>(hi, r);
              lo += left;
              hi += left - 4;
            }
            mid = <i32>((lo - dst) >> 2);
          }
          if (mid < e) {
            sp = pushPending(sp, rightCode, mid, e, dst);
          }
          if (mid > s) {
            code = leftCode;
            e = mid;
            const tmp = src;
            src = dst;
            dst = tmp;
            continue;
          }
        }
      } else {
        // A leaf: each of its rows adds its output (every row once per tree, trees in order).
        const v = leafValue(nodes, code);
        for (let j = s; j < e; j++) {
          const r = <usize>load<u32>(src + (<usize>j << 2)) >> 3;
          const p = acc + r * stride;
          store<f64>(p, load<f64>(p) + (linear ? linearOutput(model, nodes, code, base + r * rowBytes) : v));
        }
      }
      if (sp == stack) break;
      sp -= WALK_STACK_ENTRY;
      code = pendingCode(sp);
      s = pendingStart(sp);
      e = pendingEnd(sp);
      src = pendingList(sp);
      dst = src == listA ? listB : listA;
    }
  }
}

/**
 * Adds one tree's leaf output (called in tree order): with one class to `sum`, which is returned;
 * else to its class's score in `out`.
 */
@inline function addLeaf(sum: f64, model: usize, nodes: usize, out: usize, t: i32, nClass: i32, code: i64, row: usize, linear: bool, oneClass: bool): f64 {
  const v = leafOutput(model, nodes, code, row, linear);
  if (oneClass) return sum + v;
  const p = out + (<usize>(t % nClass) << 3);
  store<f64>(p, load<f64>(p) + v);
  return sum;
}

@inline function rowAcrossTrees(model: usize, row: usize, out: usize, plain: bool, noNaN: bool): void {
  // One class (binary, regression): the outputs are summed in a local rather than through memory,
  // and no tree's class is worked out (an integer division per tree).
  if (hdr(model, GBDT_N_CLASS) == 1) store<f64>(out, rowTrees(model, row, out, plain, noNaN, true));
  else rowTrees(model, row, out, plain, noNaN, false);
}

/** Eight trees in lockstep; with `oneClass` returns the row's score (out[0] is 0 before). */
@inline function rowTrees(model: usize, row: usize, out: usize, plain: bool, noNaN: bool, oneClass: bool): f64 {
  const nTrees = hdr(model, GBDT_N_TREES);
  const nClass = hdr(model, GBDT_N_CLASS);
  const roots = hptr(model, GBDT_ROOTS);
  const nodes = hptr(model, GBDT_NODES);
  const kinds = hptr(model, GBDT_KINDS);
  const catWords = hptr(model, GBDT_CAT_WORDS);
  const linear = hptr(model, GBDT_LINEAR) != 0;
  let sum = 0.0;
  let t = 0;
  for (; t + 7 < nTrees; t += 8) {
    const r = roots + (<usize>t << 3);
    let a = load<i64>(r);
    let b = load<i64>(r, 8);
    let c = load<i64>(r, 16);
    let d = load<i64>(r, 24);
    let e = load<i64>(r, 32);
    let f = load<i64>(r, 40);
    let g = load<i64>(r, 48);
    let h = load<i64>(r, 56);
    while ((a & b & c & d & e & f & g & h) >= 0) {
      a = advance(nodes, a, row, kinds, catWords, plain, noNaN);
      b = advance(nodes, b, row, kinds, catWords, plain, noNaN);
      c = advance(nodes, c, row, kinds, catWords, plain, noNaN);
      d = advance(nodes, d, row, kinds, catWords, plain, noNaN);
      e = advance(nodes, e, row, kinds, catWords, plain, noNaN);
      f = advance(nodes, f, row, kinds, catWords, plain, noNaN);
      g = advance(nodes, g, row, kinds, catWords, plain, noNaN);
      h = advance(nodes, h, row, kinds, catWords, plain, noNaN);
    }
    // Added in tree order, each to its class.
    sum = addLeaf(sum, model, nodes, out, t, nClass, a, row, linear, oneClass);
    sum = addLeaf(sum, model, nodes, out, t + 1, nClass, b, row, linear, oneClass);
    sum = addLeaf(sum, model, nodes, out, t + 2, nClass, c, row, linear, oneClass);
    sum = addLeaf(sum, model, nodes, out, t + 3, nClass, d, row, linear, oneClass);
    sum = addLeaf(sum, model, nodes, out, t + 4, nClass, e, row, linear, oneClass);
    sum = addLeaf(sum, model, nodes, out, t + 5, nClass, f, row, linear, oneClass);
    sum = addLeaf(sum, model, nodes, out, t + 6, nClass, g, row, linear, oneClass);
    sum = addLeaf(sum, model, nodes, out, t + 7, nClass, h, row, linear, oneClass);
  }
  for (; t < nTrees; t++) {
    sum = addLeaf(sum, model, nodes, out, t, nClass, descend(nodes, load<i64>(roots + (<usize>t << 3)), row, kinds, catWords), row, linear, oneClass);
  }
  return sum;
}

export function gbdt_predict_raw(model: usize, rows: usize, nRows: i32, out: usize, scratch: usize): void {
  filterRows(model, rows, nRows * hdr(model, GBDT_N_FEATURES));
  rawScores(model, rows, nRows, out, scratch);
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

export function gbdt_predict(model: usize, rows: usize, nRows: i32, out: usize, scratch: usize): void {
  gbdt_predict_raw(model, rows, nRows, out, scratch);
  transform(model, out, nRows);
}

/** Leaf index (within its tree) of every tree for every row: nRows x nTrees. */
export function gbdt_predict_leaf(model: usize, rows: usize, nRows: i32, out: usize): void {
  const nTrees = hdr(model, GBDT_N_TREES);
  const nFeat = hdr(model, GBDT_N_FEATURES);
  filterRows(model, rows, nRows * nFeat);
  const roots = hptr(model, GBDT_ROOTS);
  const nodes = hptr(model, GBDT_NODES);
  const kinds = hptr(model, GBDT_KINDS);
  const catWords = hptr(model, GBDT_CAT_WORDS);
  const leafBase = hptr(model, GBDT_LEAF_BASE);
  for (let r = 0; r < nRows; r++) {
    const row = rows + (<usize>(r * nFeat) << 3);
    for (let t = 0; t < nTrees; t++) {
      const leaf = leafIndex(descend(nodes, load<i64>(roots + (<usize>t << 3)), row, kinds, catWords));
      store<i32>(out + (<usize>(r * nTrees + t) << 2), leaf - load<i32>(leafBase + (<usize>t << 2)));
    }
  }
}
