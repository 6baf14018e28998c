// SHAP contributions of a LightGBM ensemble: TreeSHAP (Lundberg, Erion and Lee 2018, Algorithm 2)
// step for step as LightGBM's Tree::TreeSHAP computes it, so that sums round the same way.
// Node cover is internal_count / leaf_count; the hot child follows the prediction's own rules.
import { filterRows, leafIndex, stepFrom } from "./gbdt";
import { nodeOffset, featureOffset } from "./walk";
import {
  GBDT_N_TREES, GBDT_N_CLASS, GBDT_N_FEATURES, GBDT_ROOTS, GBDT_NODES, GBDT_NODE_COUNT, LEAF_VALUE,
  GBDT_LEAF_COUNT, GBDT_EXPECTED, NODE_BYTES, NODE_LEFT, NODE_RIGHT, PATH_ELEMENT_BYTES,
} from "./layout";

// A path element (PATH_ELEMENT_BYTES): feature i32 | zero_fraction f64 | one_fraction f64 | pweight f64.
@inline function feat(p: usize): i32 { return load<i32>(p); }
@inline function zero(p: usize): f64 { return load<f64>(p, 8); }
@inline function one(p: usize): f64 { return load<f64>(p, 16); }
@inline function pw(p: usize): f64 { return load<f64>(p, 24); }
@inline function el(path: usize, i: i32): usize { return path + <usize>i * PATH_ELEMENT_BYTES; }

function extendPath(path: usize, depth: i32, zeroFraction: f64, oneFraction: f64, feature: i32): void {
  const e = el(path, depth);
  store<i32>(e, feature);
  store<f64>(e, zeroFraction, 8);
  store<f64>(e, oneFraction, 16);
  store<f64>(e, depth == 0 ? 1.0 : 0.0, 24);
  for (let i = depth - 1; i >= 0; i--) {
    const a = el(path, i + 1);
    const b = el(path, i);
    store<f64>(a, pw(a) + (oneFraction * pw(b) * <f64>(i + 1)) / <f64>(depth + 1), 24);
    store<f64>(b, (zeroFraction * pw(b) * <f64>(depth - i)) / <f64>(depth + 1), 24);
  }
}

function unwindPath(path: usize, depth: i32, index: i32): void {
  const oneFraction = one(el(path, index));
  const zeroFraction = zero(el(path, index));
  let nextOnePortion = pw(el(path, depth));
  for (let i = depth - 1; i >= 0; --i) {
    const e = el(path, i);
    if (oneFraction != 0) {
      const tmp = pw(e);
      store<f64>(e, (nextOnePortion * <f64>(depth + 1)) / (<f64>(i + 1) * oneFraction), 24);
      nextOnePortion = tmp - (pw(e) * zeroFraction * <f64>(depth - i)) / <f64>(depth + 1);
    } else {
      store<f64>(e, (pw(e) * <f64>(depth + 1)) / (zeroFraction * <f64>(depth - i)), 24);
    }
  }
  for (let i = index; i < depth; ++i) {
    const a = el(path, i);
    const b = el(path, i + 1);
    store<i32>(a, feat(b));
    store<f64>(a, zero(b), 8);
    store<f64>(a, one(b), 16);
  }
}

function unwoundPathSum(path: usize, depth: i32, index: i32): f64 {
  const oneFraction = one(el(path, index));
  const zeroFraction = zero(el(path, index));
  let nextOnePortion = pw(el(path, depth));
  let total = 0.0;
  for (let i = depth - 1; i >= 0; --i) {
    if (oneFraction != 0) {
      const tmp = (nextOnePortion * <f64>(depth + 1)) / (<f64>(i + 1) * oneFraction);
      total += tmp;
      nextOnePortion = pw(el(path, i)) - tmp * zeroFraction * (<f64>(depth - i) / <f64>(depth + 1));
    } else {
      total += pw(el(path, i)) / zeroFraction / (<f64>(depth - i) / <f64>(depth + 1));
    }
  }
  return total;
}

@inline function cover(model: usize, code: i64): f64 {
  return code >= 0
    ? load<f64>(<usize>load<u32>(model + GBDT_NODE_COUNT) + (<usize>(nodeOffset(code) / NODE_BYTES) << 3))
    : load<f64>(<usize>load<u32>(model + GBDT_LEAF_COUNT) + (<usize>leafIndex(code) << 3));
}

function treeShap(
  model: usize, row: usize, phi: usize, code: i64, depth: i32,
  parentPath: usize, parentZero: f64, parentOne: f64, parentFeature: i32,
): void {
  const path = el(parentPath, depth);
  if (depth > 0) memory.copy(path, parentPath, <usize>depth * PATH_ELEMENT_BYTES);
  extendPath(path, depth, parentZero, parentOne, parentFeature);

  if (code < 0) {
    const value = load<f64>(<usize>load<u32>(model + GBDT_NODES) + <usize>nodeOffset(code), LEAF_VALUE);
    for (let i = 1; i <= depth; ++i) {
      const w = unwoundPathSum(path, depth, i);
      const e = el(path, i);
      const p = phi + (<usize>feat(e) << 3);
      store<f64>(p, load<f64>(p) + w * (one(e) - zero(e)) * value);
    }
    return;
  }
  const node = <usize>load<u32>(model + GBDT_NODES) + <usize>nodeOffset(code);
  const feature = <i32>(featureOffset(code) >> 3);
  const hot = stepFrom(model, code, row);
  const cold = hot == load<i64>(node, NODE_LEFT) ? load<i64>(node, NODE_RIGHT) : load<i64>(node, NODE_LEFT);
  const w = cover(model, code);
  const hotZero = cover(model, hot) / w;
  const coldZero = cover(model, cold) / w;
  let incomingZero = 1.0;
  let incomingOne = 1.0;

  // A feature already on the path: undo that split so this node can redo it.
  let index = 0;
  for (; index <= depth; ++index) if (feat(el(path, index)) == feature) break;
  if (index != depth + 1) {
    incomingZero = zero(el(path, index));
    incomingOne = one(el(path, index));
    unwindPath(path, depth, index);
    depth -= 1;
  }
  treeShap(model, row, phi, hot, depth + 1, path, hotZero * incomingZero, incomingOne, feature);
  treeShap(model, row, phi, cold, depth + 1, path, coldZero * incomingZero, 0, feature);
}

/**
 * nRows x nClass x (nFeatures + 1) contributions, the expected value last per class.
 * `path` is scratch for (maxDepth + 2) * (maxDepth + 3) / 2 path elements.
 */
export function gbdt_predict_contrib(model: usize, rows: usize, nRows: i32, out: usize, path: usize): void {
  const nTrees = load<i32>(model, GBDT_N_TREES);
  const nClass = load<i32>(model, GBDT_N_CLASS);
  const nFeat = load<i32>(model, GBDT_N_FEATURES);
  const roots = <usize>load<u32>(model + GBDT_ROOTS);
  const expected = <usize>load<u32>(model + GBDT_EXPECTED);
  const width = nFeat + 1;
  memory.fill(out, 0, <usize>(nRows * nClass * width) << 3);
  for (let r = 0; r < nRows; r++) {
    const row = rows + (<usize>(r * nFeat) << 3);
    filterRows(model, row, nFeat);
    for (let t = 0; t < nTrees; t++) {
      const phi = out + (<usize>((r * nClass + t % nClass) * width) << 3);
      const last = phi + (<usize>nFeat << 3);
      store<f64>(last, load<f64>(last) + load<f64>(expected + (<usize>t << 3)));
      const root = load<i64>(roots + (<usize>t << 3));
      if (root >= 0) treeShap(model, row, phi, root, 0, path, 1, 1, -1);
    }
  }
}
