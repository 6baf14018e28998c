// A block of rows walked through one tree at a time (gbdt.ts, forest.ts). At each node the node's
// rows are split into its left and right child's rows, so every row takes exactly its own path
// (rows walked in lockstep instead all wait for the deepest one: ~1.8x the node visits on the
// fixture models) and a node's feature and threshold are loaded once for all its rows.

import { NODE_THRESHOLD, NODE_LEFT, NODE_RIGHT } from "./layout";

// A child code (layout.ts) holds the child's byte offset from the node table (>= 0 an internal
// node, < 0 a leaf) and the byte offset in a row of the feature it splits on. A step reads the
// row's value and the node's threshold at once, where a feature kept in the node would put one
// more load on the chain of dependent loads. (The node's kind beside the feature, behind a mask,
// lost the gain: single rows 1.01x and 1.09x the old layout's time on churn_model and speed_model.)
@inline export function nodeOffset(code: i64): i32 {
  return <i32>(code >> 32);
}

@inline export function featureOffset(code: i64): usize {
  return <usize>(<u32>code);
}

/**
 * One lockstep move deciding on `x <= threshold` alone: every step of the forest (EconML rejects
 * missing values), and of a LightGBM model whose rows need no more (gbdt.ts). A select instead of
 * a branch (which way a row goes is unpredictable); at a leaf, a move to the same leaf.
 */
@inline export function advancePlain(nodes: usize, code: i64, row: usize): i64 {
  const node = nodes + <usize>nodeOffset(code);
  // Both children are loaded before the decision is known, off the chain of dependent loads.
  const left = load<i64>(node, NODE_LEFT);
  const right = load<i64>(node, NODE_RIGHT);
  return select(left, right, load<f64>(row + featureOffset(code)) <= load<f64>(node, NODE_THRESHOLD));
}

/** Rows walked together. */
export const WALK_BLOCK: i32 = 1024;

@inline export function align16(x: usize): usize {
  return (x + 15) & ~(<usize>15);
}

/** Bytes a pending node takes on a walk's stack: its child code (i64), then its rows' range and list. */
export const WALK_STACK_ENTRY: i32 = 24;

/** Pushes a pending node: the node at `code`, whose rows are list[s, e). Returns the new top. */
@inline export function pushPending(sp: usize, code: i64, s: i32, e: i32, list: usize): usize {
  store<i64>(sp, code);
  store<i32>(sp, s, 8);
  store<i32>(sp, e, 12);
  store<u32>(sp, <u32>list, 16);
  return sp + WALK_STACK_ENTRY;
}

// A pending node's fields, read back at `sp` once it is popped.
@inline export function pendingCode(sp: usize): i64 {
  return load<i64>(sp);
}

@inline export function pendingStart(sp: usize): i32 {
  return load<i32>(sp, 8);
}

@inline export function pendingEnd(sp: usize): i32 {
  return load<i32>(sp, 12);
}

@inline export function pendingList(sp: usize): usize {
  return <usize>load<u32>(sp, 16);
}

/**
 * Scratch for a walk: the block's columns, two row lists, a stack of pending nodes (each with
 * rows, which no other pending node has: at most WALK_BLOCK of them).
 */
export function walkBytes(nFeat: i32): i32 {
  return ((WALK_BLOCK * nFeat) << 3) + ((2 * WALK_BLOCK) << 2) + WALK_BLOCK * WALK_STACK_ENTRY + 32;
}

/** Column f of the block at cols + f * WALK_BLOCK * 8, so that a node reads one column. */
export function toColumns(rows: usize, nb: i32, nFeat: i32, cols: usize): void {
  const rowBytes = <usize>nFeat << 3;
  for (let r = 0; r < nb; r++) {
    const row = rows + <usize>r * rowBytes;
    for (let f = 0; f < nFeat; f++) store<f64>(cols + (<usize>(f * WALK_BLOCK + r) << 3), load<f64>(row + (<usize>f << 3)));
  }
}

/**
 * Splits the rows src[s, e) (as byte offsets in a column) by `col[r] <= threshold`: the left ones
 * to dst[s, mid), the right ones to dst[mid, e); returns mid. Left rows fill dst from s up, right
 * rows from e - 1 down; both slots are written, so there is no branch on which way a row goes (the
 * slot that should not have been is written again later, or is the same slot).
 */
@inline export function split(src: usize, dst: usize, s: i32, e: i32, col: usize, threshold: f64): i32 {
  let lo = dst + (<usize>s << 2);
  let hi = dst + (<usize>(e - 1) << 2);
  const end = src + (<usize>e << 2);
  for (let j = src + (<usize>s << 2); j < end; j += 4) {
    const r = load<u32>(j);
    const left = <usize>(load<f64>(col + <usize>r) <= threshold) << 2;
    store<u32>(lo, r);
    store<u32>(hi, r);
    lo += left;
    hi += left - 4;
  }
  return <i32>((lo - dst) >> 2);
}
