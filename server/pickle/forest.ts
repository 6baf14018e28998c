// The final-stage forest of a pickled EconML CausalForestDML, converted to the project's
// safetensors layout (notes/causal-forest.md section 4), byte for byte as the fixture forest
// (shared fixtures/causal_forest/causal_forest.safetensors) was exported from it. Path: est._ortho_learner_model_final._model_final._model (MultiOutputGRF) .estimators_[0]
// (CausalForest) .estimators_[t] (GRFTree) .tree_ (Cython Tree: nodes, jac, precond).
import { FOREST_FORMAT, readCausalForest } from "../model/causal/load.ts";
import { ModelFormatError } from "../model/errors.ts";
import { PickleError } from "./errors.ts";
import { pyJsonList, pyStr } from "./python-text.ts";
import { writeSafetensors } from "./safetensors-writer.ts";
import { asInt, checkedArray, expectShape, floats, ints, recordField, StateView } from "./state.ts";
import { PyObject, type PickleValue } from "./values.ts";
import { KNOWN_VERSIONS } from "./versions.ts";

export interface ForestOptions {
  /** The model columns (feature_columns.pkl): the forest's metadata names them. */
  featureColumns: string[];
  /** Outcome name for the metadata; by default the one EconML recorded, else "churned". */
  outcome?: string;
  /** EconML version for the metadata: the pickle does not record it; by default the known one. */
  econmlVersion?: string;
}

export interface ExtractedForest {
  safetensors: Uint8Array;
  /** All arms, the control first (the order of EconML's treatment encoding). */
  treatments: string[];
  control: string;
}

const CFDML = "econml.dml.causal_forest.CausalForestDML";

export function forestFromPickle(root: PickleValue, file: string, options: ForestOptions): ExtractedForest {
  const est = StateView.of(root, CFDML, file, "est");
  // The exported formulas evaluate the forest on X itself, one outcome, a categorical treatment.
  est.none("featurizer", "the forest must split on the model columns themselves");
  est.none("treatment_featurizer", "treatments are encoded one-hot only");
  if (!est.bool("discrete_treatment")) est.refuse("discrete_treatment", "expected True (a categorical treatment)");
  const dy = est.list("_d_y");
  if (dy.length !== 0) est.refuse("_d_y", `expected () (a single outcome column), found a shape of ${dy.length} dimensions`);
  const nColumns = options.featureColumns.length;
  const dx = est.list("_d_x");
  if (dx.length !== 1 || dx[0] !== nColumns) est.refuse("_d_x", `expected (${nColumns},) (one per feature column), found (${dx.map(pyStr).join(", ")})`);

  checkRecordedColumns(est, options.featureColumns);

  const wrapper = est.child("_ortho_learner_model_final", "econml.dml._rlearner._ModelFinal").child("_model_final", "econml.dml.causal_forest._CausalForestFinalWrapper");
  wrapper.none("_featurizer", "the forest must split on the model columns themselves");
  const grf = wrapper.child("_model", "econml.grf.classes.MultiOutputGRF");
  const outcomes = grf.list("estimators_");
  if (outcomes.length !== 1) grf.refuse("estimators_", `expected one forest (one outcome), found ${outcomes.length}`);
  const forest = StateView.of(outcomes[0], "econml.grf.classes.CausalForest", file, `${grf.path}.estimators_[0]`);

  const p = forest.int("n_outputs_");
  const d = forest.int("n_relevant_outputs_");
  const fitIntercept = forest.bool("fit_intercept");
  if (p !== d + (fitIntercept ? 1 : 0)) forest.refuse("n_outputs_", `expected ${d + (fitIntercept ? 1 : 0)} (n_relevant_outputs_${fitIntercept ? " + intercept" : ""}), found ${p}`);
  if (forest.int("n_features_") !== nColumns) forest.refuse("n_features_", `expected ${nColumns} (the feature columns), found ${forest.int("n_features_")}`);
  if (!forest.bool("inference")) forest.refuse("inference", "expected True: the intervals need the subforests");
  const { treatments, control } = treatmentsOf(est, d);

  const trees = forest.list("estimators_");
  const parts = trees.map((t, i) => treeArrays(StateView.of(t, "econml.grf._base_grftree.GRFTree", file, `${forest.path}.estimators_[${i}]`), nColumns, p, d));
  const nNodes = parts.reduce((s, t) => s + t.left.length, 0);
  const nLeaves = parts.reduce((s, t) => s + t.leaves.length, 0);
  const offsets = new Int32Array(trees.length + 1);
  const left = new Int32Array(nNodes);
  const right = new Int32Array(nNodes);
  const feature = new Int32Array(nNodes);
  const threshold = new Float64Array(nNodes);
  const leafIndex = new Int32Array(nNodes);
  const alpha = new Float64Array(nLeaves * p);
  const jac = new Float64Array(nLeaves * p * p);
  let node = 0;
  let leaf = 0;
  parts.forEach((t, i) => {
    left.set(t.left, node);
    right.set(t.right, node);
    feature.set(t.feature, node);
    threshold.set(t.threshold, node);
    for (let k = 0; k < t.left.length; k++) leafIndex[node + k] = t.left[k] === -1 ? leaf + t.leafRank[k] : -1;
    for (const k of t.leaves) {
      alpha.set(t.precond.subarray(k * p, (k + 1) * p), leaf * p);
      jac.set(t.jac.subarray(k * p * p, (k + 1) * p * p), leaf * p * p);
      leaf++;
    }
    node += t.left.length;
    offsets[i + 1] = node;
  });
  const subforests = subforestOffsets(forest, trees.length);

  const metadata: [string, string][] = [
    ["format", FOREST_FORMAT],
    ["econml_version", options.econmlVersion ?? KNOWN_VERSIONS.econml],
    ["treatments", pyJsonList(treatments)],
    ["control", control],
    ["treatment_columns", pyJsonList(treatments.slice(1))],
    ["n_features", String(nColumns)],
    ["feature_columns", pyJsonList(options.featureColumns)],
    ["n_trees", String(trees.length)],
    ["n_nodes", String(nNodes)],
    ["n_leaves", String(nLeaves)],
    ["n_outputs", String(p)],
    ["n_relevant_outputs", String(d)],
    ["fit_intercept", fitIntercept ? "true" : "false"],
    ["n_subforests", String(subforests.length - 1)],
    ["subforest_size", String(subforests[1] - subforests[0])],
    // Informational, worded as the fixture's export wrote them.
    ["criterion", pyStr(forest.raw("criterion"))],
    ["min_samples_leaf", pyStr(forest.raw("min_samples_leaf"))],
    ["max_samples", pyStr(forest.raw("max_samples"))],
    ["honest", forest.bool("honest") ? "true" : "false"],
    ["outcome", options.outcome ?? recordedOutcome(est) ?? "churned"],
    ["nuisance_models", nuisanceModels(est)],
    ["random_state", pyStr(forest.raw("random_state"))],
  ];
  const safetensors = writeSafetensors(
    [
      { name: "tree_node_offsets", dtype: "I32", shape: [trees.length + 1], data: offsets },
      { name: "children_left", dtype: "I32", shape: [nNodes], data: left },
      { name: "children_right", dtype: "I32", shape: [nNodes], data: right },
      { name: "feature", dtype: "I32", shape: [nNodes], data: feature },
      { name: "threshold", dtype: "F64", shape: [nNodes], data: threshold },
      { name: "leaf_index", dtype: "I32", shape: [nNodes], data: leafIndex },
      { name: "leaf_alpha", dtype: "F64", shape: [nLeaves, p], data: alpha },
      { name: "leaf_jac", dtype: "F64", shape: [nLeaves, p, p], data: jac },
      { name: "subforest_offsets", dtype: "I32", shape: [subforests.length], data: subforests },
    ],
    metadata,
  );
  // The project's own loader checks the result as a whole (tree structure, symmetry, offsets).
  try {
    readCausalForest(safetensors, file);
  } catch (err) {
    if (err instanceof ModelFormatError) throw new PickleError(file, `converted forest: ${err.where}`, err.problem);
    throw err;
  }
  return { safetensors, treatments, control };
}

interface TreeArrays {
  left: Int32Array;
  right: Int32Array;
  feature: Int32Array;
  threshold: Float64Array;
  /** Node numbers of the leaves, in node order, and each leaf node's rank among them. */
  leaves: number[];
  leafRank: Int32Array;
  precond: Float64Array;
  jac: Float64Array;
}

function treeArrays(tree: StateView, nColumns: number, p: number, d: number): TreeArrays {
  const t = tree.child("tree_", "econml.tree._tree.Tree");
  const args = t.obj.args;
  if (args.length !== 4 || args[0] !== nColumns || args[1] !== p || args[2] !== d || args[3] !== true) {
    t.fail("(constructor arguments)", `expected (n_features ${nColumns}, n_outputs ${p}, n_relevant_outputs ${d}, store_jac True), found (${args.map(pyStr).join(", ")})`);
  }
  const n = t.int("node_count");
  const nodes = t.array("nodes", "V");
  expectShape(nodes, [n], t.failer("nodes"));
  const f = t.failer("nodes");
  // -1 (no child) and -2 (no feature) mark leaves; anything else must index a node or a column.
  const int32 = (field: string, bound: number, what: string) => {
    const values = recordField(nodes, field, "i", f);
    const out = new Int32Array(values.length);
    for (let i = 0; i < values.length; i++) {
      if (values[i] < -2 || values[i] >= bound) f(`${field} of node ${i} is ${values[i]}, not ${what}`);
      out[i] = values[i];
    }
    return out;
  };
  const left = int32("left_child", n, "a node of the tree");
  const right = int32("right_child", n, "a node of the tree");
  const feature = int32("feature", nColumns, "a feature column");
  const threshold = recordField(nodes, "threshold", "f", f);
  const jacArray = t.array("jac", "f");
  if (!(jacArray.shape.length === 2 ? jacArray.shape[1] === p * p : jacArray.shape.length === 3 && jacArray.shape[1] === p && jacArray.shape[2] === p) || jacArray.shape[0] !== n) {
    t.fail("jac", `expected shape [${n}, ${p * p}] or [${n}, ${p}, ${p}], found ${JSON.stringify(jacArray.shape)}`);
  }
  const precondArray = t.array("precond", "f");
  expectShape(precondArray, [n, p], t.failer("precond"));
  const leaves: number[] = [];
  const leafRank = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    if (left[k] === -1) {
      leafRank[k] = leaves.length;
      leaves.push(k);
    }
  }
  return { left, right, feature, threshold, leaves, leafRank, precond: floats(precondArray, t.failer("precond")), jac: floats(jacArray, t.failer("jac")) };
}

/** EconML's little bags (`slices_`, arrays of tree numbers) as offsets: they must be consecutive runs. */
function subforestOffsets(forest: StateView, nTrees: number): Int32Array {
  const slices = forest.list("slices_");
  const out = new Int32Array(slices.length + 1);
  let next = 0;
  slices.forEach((s, i) => {
    const f = forest.failer(`slices_`);
    const trees = ints(checkedArray(s, "iu", f), f);
    if (trees.length === 0 || trees.some((t, k) => t !== next + k)) f(`subforest ${i} is not the run of trees starting at ${next}`);
    next += trees.length;
    out[i + 1] = next;
  });
  if (slices.length === 0 || next !== nTrees) forest.refuse("slices_", `the subforests cover ${next} trees, the forest has ${nTrees}`);
  return out;
}

/** The arms from the fitted one-hot encoder: categories_[0], the dropped (control) one first. */
function treatmentsOf(est: StateView, d: number): { treatments: string[]; control: string } {
  const enc = est.child("transformer", "sklearn.preprocessing._encoders.OneHotEncoder");
  const categories = enc.list("categories_");
  const fail = enc.failer("categories_");
  if (categories.length !== 1) fail(`expected the categories of one treatment column, found ${categories.length}`);
  const arms = checkedArray(categories[0], "O", fail).items!;
  if (!arms.every((a) => typeof a === "string")) fail("expected the arm names as strings");
  const treatments = arms as string[];
  if (treatments.length !== d + 1) fail(`expected ${d + 1} arms (the forest's ${d} effects and the control), found ${treatments.length}`);
  const drop = enc.raw("drop_idx_");
  const dropped = drop === null ? undefined : checkedArray(drop, "O", enc.failer("drop_idx_")).items!.map(asInt);
  // EconML encodes the control as the dropped first category; the effects are the others in order.
  if (dropped?.length !== 1 || dropped[0] !== 0) enc.refuse("drop_idx_", `expected [0] (the control is the first category), found ${drop === null ? "None" : JSON.stringify(dropped)}`);
  const given = est.raw("categories");
  if (Array.isArray(given) && JSON.stringify(given) !== JSON.stringify(treatments)) {
    est.refuse("categories", `the estimator's categories ${JSON.stringify(given)} differ from the encoder's ${JSON.stringify(treatments)}`);
  }
  return { treatments, control: treatments[0] };
}

/** Fitted on a DataFrame, EconML records the column names (else X0, X1, ...): they must be the model columns. */
function checkRecordedColumns(est: StateView, columns: string[]): void {
  const names = est.has("_input_names") ? est.raw("_input_names") : null;
  const recorded = names instanceof Map ? names.get("feature_names") : undefined;
  if (!Array.isArray(recorded) || recorded.every((n, i) => n === `X${i}`)) return;
  if (JSON.stringify(recorded) !== JSON.stringify(columns)) {
    est.refuse("_input_names", `the forest was fitted on columns ${JSON.stringify(recorded)}, the feature columns are ${JSON.stringify(columns)}`);
  }
}

/** EconML records the outcome's name when fitted on a named column; "Y0" means it was not. */
function recordedOutcome(est: StateView): string | undefined {
  const names = est.has("_input_names") ? est.raw("_input_names") : null;
  const outputs = names instanceof Map ? names.get("output_names") : undefined;
  const first = Array.isArray(outputs) ? outputs[0] : undefined;
  return typeof first === "string" && first !== "Y0" ? first : undefined;
}

/** The first-stage models in the export tool's wording: "Regressor / Classifier(params), cv=2". */
function nuisanceModels(est: StateView): string {
  const describeModel = (field: string) => {
    const v = est.raw(field);
    if (!(v instanceof PyObject) || !(v.state instanceof Map)) return { name: pyStr(v), params: "" };
    const state = v.state;
    const params = ["n_estimators", "max_depth", "random_state"].filter((k) => state.has(k)).map((k) => `${k}=${pyStr(state.get(k)!)}`);
    return { name: v.class.slice(v.class.lastIndexOf(".") + 1), params: params.length ? `(${params.join(", ")})` : "" };
  };
  const y = describeModel("model_y");
  const t = describeModel("model_t");
  const models = y.params === t.params ? `${y.name} / ${t.name}${t.params}` : `${y.name}${y.params} / ${t.name}${t.params}`;
  return `${models}, cv=${pyStr(est.raw("cv"))}`;
}
