// The causal forest export (format "econml-causal-forest/1") checked as a whole: tensors,
// shapes, metadata and tree structure, so that evaluation never meets an inconsistent file.
import { ModelFormatError } from "../errors.ts";
import type { CausalForest } from "./model.ts";
import { readSafetensors, type Tensor } from "./safetensors.ts";

export const FOREST_FORMAT = "econml-causal-forest/1";

export function readCausalForest(bytes: Uint8Array, source: string): CausalForest {
  const { tensors, metadata } = readSafetensors(bytes, source);
  const fail = (where: string, problem: string): never => {
    throw new ModelFormatError(source, where, problem);
  };
  const meta = (key: string): string => metadata[key] ?? fail(`metadata ${key}`, "missing");
  const metaInt = (key: string): number => {
    const v = Number(meta(key));
    if (!Number.isSafeInteger(v) || v < 0) fail(`metadata ${key}`, `expected a non-negative integer, got ${JSON.stringify(metadata[key])}`);
    return v;
  };
  const metaJson = <T>(key: string, check: (v: unknown) => boolean, expected: string): T => {
    let v: unknown;
    try {
      v = JSON.parse(meta(key));
    } catch {
      fail(`metadata ${key}`, `expected JSON (${expected}), got ${JSON.stringify(metadata[key])}`);
    }
    if (!check(v)) fail(`metadata ${key}`, `expected ${expected}, got ${metadata[key]}`);
    return v as T;
  };
  const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === "string");

  if (meta("format") !== FOREST_FORMAT) fail("metadata format", `expected "${FOREST_FORMAT}", got ${JSON.stringify(metadata.format)}`);
  const nTrees = metaInt("n_trees");
  const nNodes = metaInt("n_nodes");
  const nLeaves = metaInt("n_leaves");
  const p = metaInt("n_outputs");
  const d = metaInt("n_relevant_outputs");
  const nSub = metaInt("n_subforests");
  const nFeatures = metaInt("n_features");
  const treatments = metaJson<string[]>("treatments", strings, "a list of arm names");
  const treatmentColumns = metaJson<string[]>("treatment_columns", strings, "a list of arm names");
  const featureColumns = metaJson<string[]>("feature_columns", strings, "a list of column names");
  const fitIntercept = metaJson<boolean>("fit_intercept", (v) => typeof v === "boolean", "true or false");
  const control = meta("control");

  if (treatments[0] !== control) fail("metadata treatments", `expected the control "${control}" first, got ${JSON.stringify(treatments)}`);
  if (JSON.stringify(treatmentColumns) !== JSON.stringify(treatments.slice(1))) {
    fail("metadata treatment_columns", `expected the treatments without the control (${JSON.stringify(treatments.slice(1))}), got ${JSON.stringify(treatmentColumns)}`);
  }
  if (d !== treatmentColumns.length) fail("metadata n_relevant_outputs", `expected ${treatmentColumns.length} (one per treatment column), got ${d}`);
  if (p !== d + (fitIntercept ? 1 : 0)) fail("metadata n_outputs", `expected ${d + (fitIntercept ? 1 : 0)} (arms${fitIntercept ? " + intercept" : ""}), got ${p}`);
  if (featureColumns.length !== nFeatures) fail("metadata n_features", `expected ${featureColumns.length} (length of feature_columns), got ${nFeatures}`);
  if (nTrees < 1 || nSub < 1) fail("metadata n_trees", "expected at least one tree and one subforest");

  const tensor = (name: string, dtype: string, shape: number[]): Tensor["data"] => {
    const t = tensors.get(name) ?? fail(`tensor ${name}`, "missing");
    if (t.dtype !== dtype) fail(`tensor ${name}`, `expected dtype ${dtype}, got ${t.dtype}`);
    if (JSON.stringify(t.shape) !== JSON.stringify(shape)) fail(`tensor ${name}`, `expected shape ${JSON.stringify(shape)}, got ${JSON.stringify(t.shape)}`);
    return t.data;
  };
  const treeNodeOffsets = tensor("tree_node_offsets", "I32", [nTrees + 1]) as Int32Array;
  const childrenLeft = tensor("children_left", "I32", [nNodes]) as Int32Array;
  const childrenRight = tensor("children_right", "I32", [nNodes]) as Int32Array;
  const feature = tensor("feature", "I32", [nNodes]) as Int32Array;
  const threshold = tensor("threshold", "F64", [nNodes]) as Float64Array;
  const leafIndex = tensor("leaf_index", "I32", [nNodes]) as Int32Array;
  const leafAlpha = tensor("leaf_alpha", "F64", [nLeaves, p]) as Float64Array;
  const leafJac = tensor("leaf_jac", "F64", [nLeaves, p, p]) as Float64Array;
  const subforestOffsets = tensor("subforest_offsets", "I32", [nSub + 1]) as Int32Array;

  // The intervals solve with J̄ᵀ = J̄ and the core stores one triangle: the Jacobians must be symmetric.
  for (let l = 0; l < nLeaves; l++) {
    for (let i = 0; i < p; i++) {
      for (let j = i + 1; j < p; j++) {
        if (leafJac[l * p * p + i * p + j] !== leafJac[l * p * p + j * p + i]) {
          fail("tensor leaf_jac", `leaf ${l} is not symmetric at [${i}][${j}]; expected the symmetric Jacobian EconML's CausalForestDML stores`);
        }
      }
    }
  }
  if (treeNodeOffsets[0] !== 0 || treeNodeOffsets[nTrees] !== nNodes) {
    fail("tensor tree_node_offsets", `expected to start at 0 and end at n_nodes (${nNodes}), got ${treeNodeOffsets[0]} .. ${treeNodeOffsets[nTrees]}`);
  }
  for (let t = 0; t < nTrees; t++) {
    const begin = treeNodeOffsets[t];
    const size = treeNodeOffsets[t + 1] - begin;
    if (size < 1) fail("tensor tree_node_offsets", `tree ${t} has no nodes (offsets must increase)`);
    for (let k = 0; k < size; k++) {
      const g = begin + k;
      const l = childrenLeft[g];
      const r = childrenRight[g];
      if (l === -1) {
        if (r !== -1) fail("tensor children_right", `node ${g} (tree ${t}) is a leaf on the left (-1) but not on the right (${r})`);
        if (!(leafIndex[g] >= 0 && leafIndex[g] < nLeaves)) fail("tensor leaf_index", `leaf node ${g} (tree ${t}) has leaf row ${leafIndex[g]}; expected 0..${nLeaves - 1}`);
      } else {
        // Children come after their parent in sklearn's layout: this also rules out cycles.
        if (!(l > k && l < size)) fail("tensor children_left", `node ${g} (tree ${t}) has child ${l}; expected a tree-local index in ${k + 1}..${size - 1}`);
        if (!(r > k && r < size)) fail("tensor children_right", `node ${g} (tree ${t}) has child ${r}; expected a tree-local index in ${k + 1}..${size - 1}`);
        if (!(feature[g] >= 0 && feature[g] < nFeatures)) fail("tensor feature", `node ${g} (tree ${t}) splits on column ${feature[g]}; expected 0..${nFeatures - 1}`);
        if (Number.isNaN(threshold[g])) fail("tensor threshold", `node ${g} (tree ${t}) has a NaN threshold`);
      }
    }
  }
  if (subforestOffsets[0] !== 0 || subforestOffsets[nSub] !== nTrees) {
    fail("tensor subforest_offsets", `expected to cover trees 0..${nTrees}, got ${subforestOffsets[0]} .. ${subforestOffsets[nSub]}`);
  }
  for (let s = 0; s < nSub; s++) {
    if (subforestOffsets[s + 1] <= subforestOffsets[s]) fail("tensor subforest_offsets", `subforest ${s} is empty (offsets must increase)`);
  }
  if (subforestOffsets[1] - subforestOffsets[0] < 2) fail("tensor subforest_offsets", "the first subforest needs at least 2 trees (its size B enters as B - 1)");

  return {
    source, nTrees, nFeatures, featureColumns, treatments, control, treatmentColumns,
    nOutputs: p, nRelevantOutputs: d, fitIntercept,
    treeNodeOffsets, childrenLeft, childrenRight, feature, threshold, leafIndex, leafAlpha, leafJac, subforestOffsets,
    metadata,
  };
}
