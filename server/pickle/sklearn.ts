// The model columns (feature_columns.pkl) and the StandardScaler (scaler.pkl).
import { PickleError } from "./errors.ts";
import { describe } from "./numpy.ts";
import { checkedArray, expectShape, floats, StateView } from "./state.ts";
import { NdArray, type PickleValue } from "./values.ts";

/** A list (or tuple, or 1-d object array) of distinct column names. */
export function featureColumnsFromPickle(root: PickleValue, file: string): string[] {
  const items = root instanceof NdArray && root.dtype?.kind === "O" && root.shape.length === 1 ? root.items! : root;
  if (!Array.isArray(items) || items.length === 0 || !items.every((c) => typeof c === "string" && c.length > 0)) {
    throw new PickleError(file, "columns", `expected a non-empty list of column names, found ${describe(root)}`);
  }
  const columns = items as string[];
  const repeated = columns.find((c, i) => columns.indexOf(c) !== i);
  if (repeated !== undefined) throw new PickleError(file, "columns", `column ${JSON.stringify(repeated)} appears twice`);
  return columns;
}

export interface ExtractedScaler {
  /** transform(x) = (x - mean) / scale, per column; with_mean=False gives 0, with_std=False 1. */
  mean: number[];
  scale: number[];
  /** The column names it was fitted on, when it was fitted on a DataFrame. */
  featureNames: string[] | null;
}

export function scalerFromPickle(root: PickleValue, file: string, nColumns: number): ExtractedScaler {
  const ss = StateView.of(root, "sklearn.preprocessing._data.StandardScaler", file, "scaler");
  const n = ss.int("n_features_in_");
  if (n !== nColumns) ss.refuse("n_features_in_", `expected ${nColumns} (the feature columns), found ${n}`);
  const vector = (field: string) => {
    const arr = ss.array(field, "f");
    expectShape(arr, [n], ss.failer(field));
    return Array.from(floats(arr, ss.failer(field)));
  };
  const mean = ss.bool("with_mean") ? vector("mean_") : new Array<number>(n).fill(0);
  const scale = ss.bool("with_std") ? vector("scale_") : new Array<number>(n).fill(1);
  const bad = scale.findIndex((s) => !(s > 0 && Number.isFinite(s)));
  if (bad >= 0) ss.refuse("scale_", `scale of column ${bad} is ${scale[bad]}; expected a positive number`);
  let featureNames: string[] | null = null;
  if (ss.has("feature_names_in_")) {
    const names = checkedArray(ss.raw("feature_names_in_"), "O", ss.failer("feature_names_in_")).items!;
    if (!names.every((c) => typeof c === "string")) ss.fail("feature_names_in_", "expected column names");
    featureNames = names as string[];
  }
  return { mean, scale, featureNames };
}
