// EconML CausalForestDML final stage: effects and intervals (formulas: the README's model-bundle
// section and the causal-forest notes it cites), over a flat forest written once by the host
// (server/wasm/forest.ts).
//
// Layout (header, nodes, packed leaf statistics, output fields): assembly/layout.ts.
import { erfc } from "./normal";
import {
  FOREST_N_TREES, FOREST_N_OUTPUTS, FOREST_N_FEATURES, FOREST_ROOTS, FOREST_NODES, FOREST_LEAF_STATS,
  FOREST_SUBFOREST_OFFSETS, FOREST_N_SUBFORESTS, FOREST_SUBFOREST_SIZE,
  NODE_THRESHOLD, NODE_LEFT, NODE_RIGHT, FOREST_LEAF_STATS_OFFSET,
  EFFECT_POINT, EFFECT_LOWER, EFFECT_UPPER, EFFECT_STDERR, EFFECT_FIELDS,
} from "./layout";
import { WALK_BLOCK, WALK_STACK_ENTRY, align16, walkBytes, toColumns, split, pushPending, pendingCode, pendingStart, pendingEnd, pendingList, nodeOffset, featureOffset, advancePlain } from "./walk";

// Fewer rows than this walk the trees one by one: the forest's trees are deep (~300 nodes), and
// below it the split walk's work at each node costs more than it saves (measured: even at 256).
const MIN_WALK_ROWS: i32 = 256;

@inline function h(model: usize, off: usize): i32 {
  return load<i32>(model + off);
}

@inline function hp(model: usize, off: usize): usize {
  return <usize>load<u32>(model + off);
}

@inline function leafStats(nodes: usize, code: i64): i32 {
  return load<i32>(nodes + <usize>nodeOffset(code), FOREST_LEAF_STATS_OFFSET);
}

/**
 * Leaves of every tree for one row (as byte offsets of their statistics, at leaves[t]); eight
 * trees in lockstep so that their loads overlap.
 */
function rowLeaves(model: usize, row: usize, leaves: usize): void {
  const nTrees = h(model, FOREST_N_TREES);
  const roots = hp(model, FOREST_ROOTS);
  const nodes = hp(model, FOREST_NODES);
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
    let k = load<i64>(r, 56);
    while ((a & b & c & d & e & f & g & k) >= 0) {
      a = advancePlain(nodes, a, row);
      b = advancePlain(nodes, b, row);
      c = advancePlain(nodes, c, row);
      d = advancePlain(nodes, d, row);
      e = advancePlain(nodes, e, row);
      f = advancePlain(nodes, f, row);
      g = advancePlain(nodes, g, row);
      k = advancePlain(nodes, k, row);
    }
    const o = leaves + (<usize>t << 2);
    store<i32>(o, leafStats(nodes, a));
    store<i32>(o, leafStats(nodes, b), 4);
    store<i32>(o, leafStats(nodes, c), 8);
    store<i32>(o, leafStats(nodes, d), 12);
    store<i32>(o, leafStats(nodes, e), 16);
    store<i32>(o, leafStats(nodes, f), 20);
    store<i32>(o, leafStats(nodes, g), 24);
    store<i32>(o, leafStats(nodes, k), 28);
  }
  for (; t < nTrees; t++) {
    let a = load<i64>(roots + (<usize>t << 3));
    while (a >= 0) a = advancePlain(nodes, a, row);
    store<i32>(leaves + (<usize>t << 2), leafStats(nodes, a));
  }
}

/**
 * Leaves of every tree for a block of nb <= WALK_BLOCK rows (row r's at leaves + r * nTrees * 4),
 * one tree at a time (walk.ts).
 */
function blockLeaves(model: usize, rows: usize, nb: i32, leaves: usize, walk: usize): void {
  const nTrees = h(model, FOREST_N_TREES);
  const nFeat = h(model, FOREST_N_FEATURES);
  const rowBytes = <usize>nFeat << 3;
  const leafStride = <usize>nTrees << 2;
  if (nb < MIN_WALK_ROWS) {
    for (let r = 0; r < nb; r++) rowLeaves(model, rows + <usize>r * rowBytes, leaves + <usize>r * leafStride);
    return;
  }
  const roots = hp(model, FOREST_ROOTS);
  const nodes = hp(model, FOREST_NODES);
  const cols = align16(walk);
  const listA = cols + (<usize>(WALK_BLOCK * nFeat) << 3);
  const listB = listA + (<usize>WALK_BLOCK << 2);
  const stack = listB + (<usize>WALK_BLOCK << 2);
  toColumns(rows, nb, nFeat, cols);
  for (let t = 0; t < nTrees; t++) {
    for (let r = 0; r < nb; r++) store<i32>(listA + (<usize>r << 2), r << 3);
    // The rows at `code` are src[s, e); its children's rows go to the same range of the other
    // list, which no pending node uses.
    let code = load<i64>(roots + (<usize>t << 3));
    let src = listA;
    let dst = listB;
    let s = 0;
    let e = nb;
    let sp = stack;
    const at = leaves + (<usize>t << 2);
    while (true) {
      if (code >= 0) {
        const node = nodes + <usize>nodeOffset(code);
        // A feature's byte offset in a row times WALK_BLOCK is its column's offset.
        const col = cols + featureOffset(code) * <usize>WALK_BLOCK;
        const mid = split(src, dst, s, e, col, load<f64>(node, NODE_THRESHOLD));
        if (mid < e) {
          sp = pushPending(sp, load<i64>(node, NODE_RIGHT), mid, e, dst);
        }
        if (mid > s) {
          code = load<i64>(node, NODE_LEFT);
          e = mid;
          const tmp = src;
          src = dst;
          dst = tmp;
          continue;
        }
      } else {
        const stats = leafStats(nodes, code);
        for (let j = s; j < e; j++) {
          store<i32>(at + (<usize>load<u32>(src + (<usize>j << 2)) >> 3) * leafStride, stats);
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
 * LU factorisation with partial pivoting of the p x p matrix at `a` (in place), pivots in `perm`.
 * Returns false when singular.
 */
function luFactor(a: usize, perm: usize, p: i32): bool {
  for (let i = 0; i < p; i++) store<i32>(perm + (<usize>i << 2), i);
  for (let k = 0; k < p; k++) {
    let best = k;
    let bestAbs = Math.abs(load<f64>(a + (<usize>(k * p + k) << 3)));
    for (let i = k + 1; i < p; i++) {
      const v = Math.abs(load<f64>(a + (<usize>(i * p + k) << 3)));
      if (v > bestAbs) {
        best = i;
        bestAbs = v;
      }
    }
    if (!(bestAbs > 0)) return false;
    if (best != k) {
      for (let j = 0; j < p; j++) {
        const x = a + (<usize>(k * p + j) << 3);
        const y = a + (<usize>(best * p + j) << 3);
        const tmp = load<f64>(x);
        store<f64>(x, load<f64>(y));
        store<f64>(y, tmp);
      }
      const pk = perm + (<usize>k << 2);
      const pb = perm + (<usize>best << 2);
      const tmp = load<i32>(pk);
      store<i32>(pk, load<i32>(pb));
      store<i32>(pb, tmp);
    }
    const pivot = load<f64>(a + (<usize>(k * p + k) << 3));
    for (let i = k + 1; i < p; i++) {
      const li = a + (<usize>(i * p + k) << 3);
      const f = load<f64>(li) / pivot;
      store<f64>(li, f);
      for (let j = k + 1; j < p; j++) {
        const x = a + (<usize>(i * p + j) << 3);
        store<f64>(x, load<f64>(x) - f * load<f64>(a + (<usize>(k * p + j) << 3)));
      }
    }
  }
  return true;
}

/** Solves LU x = b[perm] into x (length p). */
function luSolve(lu: usize, perm: usize, p: i32, b: usize, x: usize): void {
  for (let i = 0; i < p; i++) {
    let s = load<f64>(b + (<usize>load<i32>(perm + (<usize>i << 2)) << 3));
    for (let j = 0; j < i; j++) s -= load<f64>(lu + (<usize>(i * p + j) << 3)) * load<f64>(x + (<usize>j << 3));
    store<f64>(x + (<usize>i << 3), s);
  }
  for (let i = p - 1; i >= 0; i--) {
    let s = load<f64>(x + (<usize>i << 3));
    for (let j = i + 1; j < p; j++) s -= load<f64>(lu + (<usize>(i * p + j) << 3)) * load<f64>(x + (<usize>j << 3));
    store<f64>(x + (<usize>i << 3), s / load<f64>(lu + (<usize>(i * p + i) << 3)));
  }
}

/** Adds a tree's projected moment u to its contrast's sums of u and u² for the subforest. */
@inline function accumulate(ac: usize, u: f64): void {
  store<f64>(ac, load<f64>(ac, 24) + u, 24);
  store<f64>(ac, load<f64>(ac, 32) + u * u, 32);
}

// Rows whose statistics are summed and projected together: tree by tree for the whole block, while
// the block's sums and projection coefficients stay in cache. (Their leaves are found for
// WALK_BLOCK rows at a time.)
const BLOCK: i32 = 16;

/** Contrasts are projected two at a time; an odd count is padded with one of zero weights. */
@inline function pairs(nContrasts: i32): i32 {
  return (nContrasts + 1) & ~1;
}

/** Bytes of scratch `forest_effects` needs. */
export function forest_scratch_bytes(model: usize, nContrasts: i32): i32 {
  const p = h(model, FOREST_N_OUTPUTS);
  const width = p + (p * (p + 1)) / 2;
  const perRow = ((width + p + pairs(nContrasts) * (width + 6)) << 3) + 4;
  const shared = ((2 * p * p + nContrasts * p) << 3) + ((p + p * p) << 2);
  const leaves = (WALK_BLOCK * h(model, FOREST_N_TREES)) << 2;
  return leaves + walkBytes(h(model, FOREST_N_FEATURES)) + BLOCK * perRow + shared + 16 * 16;
}

/**
 * For each row and each contrast q (nContrasts x p, intercept slot 0): effect, lower, upper,
 * stderr at out[(row * nContrasts + c) * EFFECT_FIELDS + EFFECT_*]. zLo / zHi are the normal
 * quantiles at alpha / 2 and 1 - alpha / 2. A singular averaged Jacobian gives NaN (the host
 * reports it). A row's arithmetic is the same whatever block it is evaluated in.
 */
export function forest_effects(
  model: usize, rows: usize, nRows: i32, q: usize, nContrasts: i32,
  zLo: f64, zHi: f64, out: usize, scratch: usize,
): void {
  const nTrees = h(model, FOREST_N_TREES);
  const p = h(model, FOREST_N_OUTPUTS);
  const nFeat = h(model, FOREST_N_FEATURES);
  const stats = hp(model, FOREST_LEAF_STATS);
  const subOff = hp(model, FOREST_SUBFOREST_OFFSETS);
  const nSub = h(model, FOREST_N_SUBFORESTS);
  const bFirst = <f64>h(model, FOREST_SUBFOREST_SIZE);
  const pp = p * p;
  const width = p + (p * (p + 1)) / 2;
  const nc = nContrasts;
  const ncPad = pairs(nc);

  // Per row of the block: its leaves (byte offsets of their statistics) and the sums of the
  // leaves' packed stats (alpha, then the Jacobian's upper triangle), θ, and per contrast the
  // coefficients that turn a leaf's packed stats into u = w·(a - J θ) in one dot product (w on
  // the alpha part, -(θ_i w_j + θ_j w_i) on Jacobian entry (i, j), -θ_i w_i on the diagonal) and
  // six sums: over subforests of mean u, of (mean u)^2, of mean u^2; the current subforest's
  // sums of u and u^2.
  const leafStride = <usize>nTrees << 2;
  const sumStride = <usize>width << 3;
  const thetaStride = <usize>p << 3;
  const kStride = <usize>(ncPad * width) << 3;
  const accStride = <usize>(ncPad * 6) << 3;
  // Leaves of the WALK_BLOCK rows walked last, then the walk's own scratch.
  const walked = align16(scratch);
  const walk = align16(walked + <usize>WALK_BLOCK * leafStride);
  const sums = align16(walk + <usize>walkBytes(nFeat));
  const thetas = align16(sums + <usize>BLOCK * sumStride);
  const ks = align16(thetas + <usize>BLOCK * thetaStride);
  const accs = align16(ks + <usize>BLOCK * kStride);
  const solved = align16(accs + <usize>BLOCK * accStride);
  const jBar = align16(solved + (<usize>BLOCK << 2));
  const lu = align16(jBar + (<usize>pp << 3));
  const w = align16(lu + (<usize>pp << 3));
  const perm = align16(w + (<usize>(nc * p) << 3));
  // Position of Jacobian entry (i, j) in a leaf's stats (upper triangle, i <= j).
  const sym = align16(perm + (<usize>p << 2));
  for (let i = 0, k = p; i < p; i++) {
    for (let j = i; j < p; j++, k++) {
      store<i32>(sym + (<usize>(i * p + j) << 2), k);
      store<i32>(sym + (<usize>(j * p + i) << 2), k);
    }
  }
  const inv = 1.0 / <f64>nTrees;
  const S = <f64>nSub;

  // The padding contrast's coefficients (an odd count): zero for every row, written once.
  if (ncPad > nc) {
    for (let r = 0; r < BLOCK; r++) memory.fill(ks + <usize>r * kStride + (<usize>(nc * width) << 3), 0, <usize>width << 3);
  }
  for (let r0 = 0; r0 < nRows; r0 += BLOCK) {
    const nb = min(BLOCK, nRows - r0);
    // WALK_BLOCK is a multiple of BLOCK: a walk block's rows are walked at its first block.
    const inWalk = r0 % WALK_BLOCK;
    if (inWalk == 0) blockLeaves(model, rows + (<usize>(r0 * nFeat) << 3), min(WALK_BLOCK, nRows - r0), walked, walk);
    const leaves = walked + <usize>inWalk * leafStride;

    // Averages of the leaf statistics over all trees (not of per-tree solutions), summed tree by tree.
    memory.fill(sums, 0, <usize>nb * sumStride);
    for (let t = 0; t < nTrees; t++) {
      for (let r = 0; r < nb; r++) {
        const st = stats + <usize>load<i32>(leaves + <usize>r * leafStride + (<usize>t << 2));
        const acc = sums + <usize>r * sumStride;
        let i = 0;
        for (; i + 1 < width; i += 2) {
          const o = acc + (<usize>i << 3);
          v128.store(o, f64x2.add(v128.load(o), v128.load(st + (<usize>i << 3))));
        }
        if (i < width) store<f64>(acc + (<usize>i << 3), load<f64>(acc + (<usize>i << 3)) + load<f64>(st + (<usize>i << 3)));
      }
    }

    for (let r = 0; r < nb; r++) {
      const aBar = sums + <usize>r * sumStride;
      const theta = thetas + <usize>r * thetaStride;
      for (let i = 0; i < pp; i++) {
        store<f64>(jBar + (<usize>i << 3), load<f64>(aBar + (<usize>load<i32>(sym + (<usize>i << 2)) << 3)) * inv);
      }
      for (let i = 0; i < p; i++) store<f64>(aBar + (<usize>i << 3), load<f64>(aBar + (<usize>i << 3)) * inv);
      memory.copy(lu, jBar, <usize>pp << 3);
      const ok = luFactor(lu, perm, p);
      store<i32>(solved + (<usize>r << 2), <i32>ok);
      if (!ok) continue;
      luSolve(lu, perm, p, aBar, theta);
      // w_c solves J̄ᵀ w = q_c; the leaf Jacobians are symmetric, so J̄ᵀ = J̄ and one LU serves.
      for (let c = 0; c < nc; c++) {
        luSolve(lu, perm, p, q + (<usize>(c * p) << 3), w + (<usize>(c * p) << 3));
      }
      for (let c = 0; c < nc; c++) {
        const wc = w + (<usize>(c * p) << 3);
        const kc = ks + <usize>r * kStride + (<usize>(c * width) << 3);
        for (let i = 0; i < p; i++) store<f64>(kc + (<usize>i << 3), load<f64>(wc + (<usize>i << 3)));
        for (let i = 0; i < p; i++) {
          const ti = load<f64>(theta + (<usize>i << 3));
          const wi = load<f64>(wc + (<usize>i << 3));
          for (let j = i; j < p; j++) {
            const tj = load<f64>(theta + (<usize>j << 3));
            const wj = load<f64>(wc + (<usize>j << 3));
            const k = load<i32>(sym + (<usize>(i * p + j) << 2));
            store<f64>(kc + (<usize>k << 3), i == j ? -ti * wi : -(ti * wj + tj * wi));
          }
        }
      }
    }

    // Per-tree moments m_t = a_t - J_t θ projected on each w_c, accumulated per subforest, tree
    // by tree for the block (rows whose Jacobian was singular compute garbage, never reported).
    memory.fill(accs, 0, <usize>nb * accStride);
    for (let s = 0; s < nSub; s++) {
      const t0 = load<i32>(subOff + (<usize>s << 2));
      const t1 = load<i32>(subOff + (<usize>(s + 1) << 2));
      for (let t = t0; t < t1; t++) {
        for (let r = 0; r < nb; r++) {
          const st = stats + <usize>load<i32>(leaves + <usize>r * leafStride + (<usize>t << 2));
          const kr = ks + <usize>r * kStride;
          const acc = accs + <usize>r * accStride;
          // Two contrasts per pass over the leaf's stats: each stats load serves both.
          for (let c = 0; c < ncPad; c += 2) {
            const ka = kr + (<usize>(c * width) << 3);
            const kb = ka + (<usize>width << 3);
            let sa = f64x2.splat(0);
            let sb = f64x2.splat(0);
            let i = 0;
            for (; i + 1 < width; i += 2) {
              const x = v128.load(st + (<usize>i << 3));
              sa = f64x2.add(sa, f64x2.mul(v128.load(ka + (<usize>i << 3)), x));
              sb = f64x2.add(sb, f64x2.mul(v128.load(kb + (<usize>i << 3)), x));
            }
            let ua = f64x2.extract_lane(sa, 0) + f64x2.extract_lane(sa, 1);
            let ub = f64x2.extract_lane(sb, 0) + f64x2.extract_lane(sb, 1);
            if (i < width) {
              const x = load<f64>(st + (<usize>i << 3));
              ua += load<f64>(ka + (<usize>i << 3)) * x;
              ub += load<f64>(kb + (<usize>i << 3)) * x;
            }
            accumulate(acc + (<usize>(c * 6) << 3), ua);
            accumulate(acc + (<usize>((c + 1) * 6) << 3), ub);
          }
        }
      }
      const size = <f64>(t1 - t0);
      for (let r = 0; r < nb; r++) {
        for (let c = 0; c < nc; c++) {
          const ac = accs + <usize>r * accStride + (<usize>(c * 6) << 3);
          const mean = load<f64>(ac, 24) / size;
          store<f64>(ac, load<f64>(ac) + mean);
          store<f64>(ac, load<f64>(ac, 8) + mean * mean, 8);
          store<f64>(ac, load<f64>(ac, 16) + load<f64>(ac, 32) / size, 16);
          store<f64>(ac, 0.0, 24);
          store<f64>(ac, 0.0, 32);
        }
      }
    }

    for (let r = 0; r < nb; r++) {
      const o = out + (<usize>((r0 + r) * nc * EFFECT_FIELDS) << 3);
      if (load<i32>(solved + (<usize>r << 2)) == 0) {
        for (let i = 0; i < nc * EFFECT_FIELDS; i++) store<f64>(o + (<usize>i << 3), NaN);
        continue;
      }
      const theta = thetas + <usize>r * thetaStride;
      for (let c = 0; c < nc; c++) {
        const qc = q + (<usize>(c * p) << 3);
        let point = 0.0;
        for (let i = 0; i < p; i++) point += load<f64>(qc + (<usize>i << 3)) * load<f64>(theta + (<usize>i << 3));
        const ac = accs + <usize>r * accStride + (<usize>(c * 6) << 3);
        const meanU = load<f64>(ac) / S;
        const sb = load<f64>(ac, 8) / S;
        const qq = load<f64>(ac, 16) / S;
        const v = sb - meanU * meanU;
        const vc = (qq - sb) / (bFirst - 1.0);
        // EconML's bias correction of v - vc (objective-Bayes debiasing).
        const naive = v - vc;
        const se = max(v, vc) * Math.sqrt(2.0 / S);
        const z = naive / max(se, 1e-10);
        const phi = Math.exp(-0.5 * z * z) / Math.sqrt(2.0 * Math.PI);
        const Phi = 0.5 * erfc(-z / Math.SQRT2);
        const stderr = Math.sqrt(naive + (se * phi) / Phi);
        const oc = o + (<usize>(c * EFFECT_FIELDS) << 3);
        store<f64>(oc, point, EFFECT_POINT << 3);
        store<f64>(oc, stderr > 0 ? point + stderr * zLo : point, EFFECT_LOWER << 3);
        store<f64>(oc, stderr > 0 ? point + stderr * zHi : point, EFFECT_UPPER << 3);
        store<f64>(oc, stderr, EFFECT_STDERR << 3);
      }
    }
  }
}
