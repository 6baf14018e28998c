// LightGBM text model -> LgbModel, checked so that nothing is silently mis-evaluated: every
// count, index, decision bit and number is validated, and anything unsupported is refused with
// the file, the line / key and what was expected.
import { ModelFormatError } from "../errors.ts";
import { MissingType, type LgbModel, type LgbTree, type OutputTransform } from "./model.ts";
import { scanModel, ScanError, type Block, type Entry } from "./scan.ts";

/** Objectives LightGBM writes, and how each turns raw scores into predictions. */
const IDENTITY_OBJECTIVES = new Set([
  "regression", "regression_l1", "huber", "fair", "quantile", "mape", "lambdarank", "rank_xendcg", "custom",
]);

function parseNumber(token: string): number {
  switch (token.toLowerCase()) {
    case "inf":
    case "+inf":
    case "infinity":
      return Infinity;
    case "-inf":
    case "-infinity":
      return -Infinity;
    case "nan":
    case "-nan":
      return NaN;
  }
  // Number() accepts "", "0x1", " 1": none of those is a LightGBM number.
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(token)) return NaN;
  return Number(token);
}

export function parseLightGBM(text: string, source: string): LgbModel {
  const fail = (where: string, problem: string): never => {
    throw new ModelFormatError(source, where, problem);
  };
  let scan;
  try {
    scan = scanModel(text);
  } catch (err) {
    if (err instanceof ScanError) fail(`line ${err.line}`, err.problem);
    throw err;
  }
  const { header } = scan;
  if (!header.bare.has("tree")) fail("line 1", `expected a LightGBM text model starting with "tree"`);

  const entry = (block: Block, key: string, required = true): Entry | undefined => {
    const e = block.entries.get(key);
    if (!e && required) fail(block === header ? "header" : `${block.name} (line ${block.line})`, `missing key "${key}"`);
    return e;
  };
  const at = (block: Block, e: Entry, key: string) => `line ${e.line} (${block === header ? "" : `${block.name} `}${key})`;
  const int = (block: Block, key: string, min = 0): number => {
    const e = entry(block, key)!;
    const v = Number(e.value);
    if (!/^-?\d+$/.test(e.value.trim()) || !Number.isSafeInteger(v) || v < min) {
      fail(at(block, e, key), `expected an integer >= ${min}, got "${e.value}"`);
    }
    return v;
  };
  const numbers = (block: Block, key: string, count: number, integer = false): number[] => {
    const e = entry(block, key, count > 0);
    if (!e) return [];
    const tokens = e.value.split(" ").filter((t) => t !== "");
    if (tokens.length !== count) fail(at(block, e, key), `expected ${count} values, got ${tokens.length}`);
    return tokens.map((t, i) => {
      const v = parseNumber(t);
      if (integer ? !Number.isSafeInteger(v) || !/^-?\d+$/.test(t) : Number.isNaN(v) && t.toLowerCase() !== "nan") {
        fail(at(block, e, key), `value ${i} is not ${integer ? "an integer" : "a number"}: "${t}"`);
      }
      return v;
    });
  };

  const version = entry(header, "version")!;
  if (!/^v[234]$/.test(version.value)) fail(at(header, version, "version"), `expected v2, v3 or v4, got "${version.value}"`);
  const numClass = int(header, "num_class", 1);
  const perIteration = int(header, "num_tree_per_iteration", 1);
  if (perIteration !== numClass) {
    fail("header num_tree_per_iteration", `expected ${numClass} (= num_class), got ${perIteration}`);
  }
  const numFeatures = int(header, "max_feature_idx", 0) + 1;
  const namesEntry = entry(header, "feature_names")!;
  const featureNames = namesEntry.value.split(" ").filter((s) => s !== "");
  if (featureNames.length !== numFeatures) {
    fail(at(header, namesEntry, "feature_names"), `expected ${numFeatures} names (max_feature_idx + 1), got ${featureNames.length}`);
  }

  // The objective line and its output transform.
  const objectiveEntry = entry(header, "objective", false);
  const objectiveParts = (objectiveEntry?.value ?? "regression").split(" ").filter((s) => s !== "");
  const objective = objectiveParts[0] ?? "";
  const param = (name: string): number | undefined => {
    const p = objectiveParts.find((s) => s.startsWith(`${name}:`));
    if (p === undefined) return undefined;
    const v = parseNumber(p.slice(name.length + 1));
    if (!Number.isFinite(v)) fail(`line ${objectiveEntry!.line} (objective)`, `expected a number after "${name}:", got "${p}"`);
    return v;
  };
  let transform: OutputTransform;
  switch (objective) {
    case "binary":
      transform = { kind: "sigmoid", sigmoid: param("sigmoid") ?? 1 };
      break;
    case "cross_entropy":
    case "xentropy":
      transform = { kind: "sigmoid", sigmoid: 1 };
      break;
    case "cross_entropy_lambda":
    case "xentlambda":
      transform = { kind: "log1pexp" };
      break;
    case "multiclass":
    case "softmax":
      transform = { kind: "softmax" };
      break;
    case "multiclassova":
    case "multiclass_ova":
    case "ova":
    case "ovr":
      transform = { kind: "ova", sigmoid: param("sigmoid") ?? 1 };
      break;
    case "poisson":
    case "gamma":
    case "tweedie":
      transform = { kind: "exp" };
      break;
    default:
      if (!IDENTITY_OBJECTIVES.has(objective)) {
        fail(objectiveEntry ? `line ${objectiveEntry.line} (objective)` : "header objective", `unknown objective "${objective}"; expected one LightGBM writes (binary, multiclass, regression, poisson, ...)`);
      }
      transform = objective === "regression" && objectiveParts.includes("sqrt") ? { kind: "square" } : { kind: "identity" };
  }
  const isMulti = transform.kind === "softmax" || transform.kind === "ova";
  if (isMulti) {
    const k = param("num_class");
    if (k !== undefined && k !== numClass) fail(`line ${objectiveEntry!.line} (objective)`, `num_class:${k} disagrees with num_class=${numClass}`);
  } else if (numClass !== 1) {
    fail("header num_class", `expected 1 for objective "${objective}", got ${numClass}`);
  }

  if (scan.trees.length === 0) fail("trees", "the model has no trees (expected Tree=0 ...)");
  if (!scan.endOfTrees) fail(`line ${scan.lineCount}`, `expected "end of trees": the file is truncated`);
  if (scan.trees.length % numClass !== 0) fail("trees", `expected a multiple of num_class (${numClass}) trees, got ${scan.trees.length}`);
  const trees = scan.trees.map((block, t) => {
    if (block.name !== `Tree=${t}`) fail(`line ${block.line}`, `expected "Tree=${t}", got "${block.name}"`);
    return parseTree(block, numFeatures, { fail, int, numbers, entry, at });
  });

  let pandasCategorical: unknown[] | null = null;
  if (scan.pandasCategorical) {
    try {
      const v = JSON.parse(scan.pandasCategorical.value);
      if (v !== null && !Array.isArray(v)) throw new Error("not a list");
      pandasCategorical = v;
    } catch (err) {
      fail(`line ${scan.pandasCategorical.line} (pandas_categorical)`, `expected a JSON list or null: ${(err as Error).message}`);
    }
  }

  return {
    source, numClass, numTreePerIteration: perIteration, numFeatures, featureNames, objective, transform,
    averageOutput: header.bare.has("average_output"), trees, pandasCategorical,
  };
}

interface Helpers {
  fail: (where: string, problem: string) => never;
  int: (block: Block, key: string, min?: number) => number;
  numbers: (block: Block, key: string, count: number, integer?: boolean) => number[];
  entry: (block: Block, key: string, required?: boolean) => Entry | undefined;
  at: (block: Block, e: Entry, key: string) => string;
}

function parseTree(block: Block, numFeatures: number, h: Helpers): LgbTree {
  const { fail, int, numbers, entry, at } = h;
  const where = (key: string) => {
    const e = block.entries.get(key);
    return e ? at(block, e, key) : `${block.name} ${key}`;
  };
  const numLeaves = int(block, "num_leaves", 1);
  const numCat = block.entries.has("num_cat") ? int(block, "num_cat", 0) : 0;
  const nodes = numLeaves - 1;
  const splitFeature = Int32Array.from(numbers(block, "split_feature", nodes, true));
  const threshold = Float64Array.from(numbers(block, "threshold", nodes));
  const decisionType = numbers(block, "decision_type", nodes, true);
  const leftChild = Int32Array.from(numbers(block, "left_child", nodes, true));
  const rightChild = Int32Array.from(numbers(block, "right_child", nodes, true));
  const internalValue = Float64Array.from(block.entries.has("internal_value") ? numbers(block, "internal_value", nodes) : new Array(nodes).fill(0));
  const internalCount = Float64Array.from(numbers(block, "internal_count", nodes));
  const leafValue = Float64Array.from(numbers(block, "leaf_value", numLeaves));
  const leafCount = Float64Array.from(block.entries.has("leaf_count") || numLeaves > 1 ? numbers(block, "leaf_count", numLeaves) : [0]);

  // Children: every node but the root and every leaf is reached exactly once, so it is a tree.
  const seenNode = new Uint8Array(nodes);
  const seenLeaf = new Uint8Array(numLeaves);
  for (const [key, children] of [["left_child", leftChild], ["right_child", rightChild]] as const) {
    children.forEach((c, i) => {
      if (c >= 0) {
        if (c >= nodes || c === 0 || seenNode[c]++) fail(where(key), `node ${i} has child node ${c}; expected each of nodes 1..${nodes - 1} exactly once`);
      } else if (~c >= numLeaves || seenLeaf[~c]++) {
        fail(where(key), `node ${i} has child leaf ${~c} (${c}); expected each of leaves 0..${numLeaves - 1} exactly once`);
      }
    });
  }

  // decision_type: bit 0 categorical, bit 1 default left, bits 2-3 the missing type. Decoded here
  // once; nothing downstream looks at the bits.
  const categorical = new Uint8Array(nodes);
  const defaultLeft = new Uint8Array(nodes);
  const missingType = new Uint8Array(nodes);
  const missingTypes: readonly number[] = [MissingType.None, MissingType.Zero, MissingType.NaN];
  for (let i = 0; i < nodes; i++) {
    const d = decisionType[i];
    if (d < 0 || d > 255 || (d & ~15) !== 0 || !missingTypes.includes((d >> 2) & 3)) {
      fail(where("decision_type"), `node ${i} has decision_type ${d}; expected bits 0 (categorical), 1 (default left) and 2-3 (missing type 0-2) only`);
    }
    categorical[i] = d & 1;
    defaultLeft[i] = (d >> 1) & 1;
    missingType[i] = (d >> 2) & 3;
    if (splitFeature[i] < 0 || splitFeature[i] >= numFeatures) {
      fail(where("split_feature"), `node ${i} splits on feature ${splitFeature[i]}; expected 0..${numFeatures - 1}`);
    }
    if (categorical[i]) {
      const c = threshold[i];
      if (!Number.isInteger(c) || c < 0 || c >= numCat) fail(where("threshold"), `categorical node ${i} has threshold ${c}; expected a categorical split index 0..${numCat - 1}`);
    } else if (Number.isNaN(threshold[i])) {
      fail(where("threshold"), `node ${i} has a NaN threshold`);
    }
  }

  let catBoundaries = new Int32Array(0);
  let catThreshold = new Uint32Array(0);
  if (numCat > 0) {
    catBoundaries = Int32Array.from(numbers(block, "cat_boundaries", numCat + 1, true));
    const words = catBoundaries[numCat];
    const e = entry(block, "cat_threshold")!;
    const tokens = e.value.split(" ").filter((t) => t !== "");
    if (catBoundaries[0] !== 0 || catBoundaries.some((b, i) => i > 0 && b < catBoundaries[i - 1])) {
      fail(where("cat_boundaries"), `expected non-decreasing offsets starting at 0, got ${Array.from(catBoundaries).join(" ")}`);
    }
    if (tokens.length !== words) fail(at(block, e, "cat_threshold"), `expected ${words} words (the last cat_boundaries), got ${tokens.length}`);
    catThreshold = Uint32Array.from(tokens, (t, i) => {
      const v = Number(t);
      if (!/^\d+$/.test(t) || v > 0xffffffff) fail(at(block, e, "cat_threshold"), `word ${i} is not a 32-bit unsigned integer: "${t}"`);
      return v;
    });
  }

  const isLinear = block.entries.has("is_linear") && int(block, "is_linear", 0) !== 0;
  let leafConst = new Float64Array(0);
  const leafFeatures: Int32Array[] = [];
  const leafCoeff: Float64Array[] = [];
  if (isLinear) {
    leafConst = Float64Array.from(numbers(block, "leaf_const", numLeaves));
    const counts = numbers(block, "num_features", numLeaves, true);
    const total = counts.reduce((a, b) => a + b, 0);
    // Groups are separated by an extra space and may be empty: the counts say where each ends.
    const feats = numbers(block, "leaf_features", total, true);
    const coeffs = numbers(block, "leaf_coeff", total);
    let o = 0;
    counts.forEach((n, l) => {
      if (n < 0) fail(where("num_features"), `leaf ${l} has a negative feature count ${n}`);
      const f = Int32Array.from(feats.slice(o, o + n));
      if (f.some((x) => x < 0 || x >= numFeatures)) fail(where("leaf_features"), `leaf ${l} uses a feature outside 0..${numFeatures - 1}`);
      leafFeatures.push(f);
      leafCoeff.push(Float64Array.from(coeffs.slice(o, o + n)));
      o += n;
    });
  }

  return {
    numLeaves, numCat, splitFeature, threshold, categorical, defaultLeft, missingType, leftChild, rightChild,
    internalValue, internalCount, leafValue, leafCount, catBoundaries, catThreshold,
    isLinear, leafConst, leafFeatures, leafCoeff,
  };
}
