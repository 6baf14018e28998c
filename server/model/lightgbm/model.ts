// A LightGBM model as read from its text format: the parser's output and the input of both
// evaluators (the TypeScript reference and the WebAssembly core). Arrays keep the file's
// per-node / per-leaf order; numbers are float64 as printed.

/** How raw scores become the "normal" prediction (LightGBM's objective output transform). */
export type OutputTransform =
  | { kind: "identity" }
  | { kind: "sigmoid"; sigmoid: number } // binary, cross_entropy (sigmoid 1)
  | { kind: "softmax" } // multiclass
  | { kind: "ova"; sigmoid: number } // multiclassova: per-class sigmoid
  | { kind: "exp" } // poisson, gamma, tweedie
  | { kind: "log1pexp" } // cross_entropy_lambda
  | { kind: "square" }; // regression sqrt: sign(raw) * raw^2

/** How a numerical split treats missing values (decision_type bits 2-3). */
export const MissingType = { None: 0, Zero: 1, NaN: 2 } as const;
export type MissingType = (typeof MissingType)[keyof typeof MissingType];

export interface LgbTree {
  numLeaves: number;
  numCat: number;
  /** Per internal node (numLeaves - 1 entries each). */
  splitFeature: Int32Array;
  /** Numerical: go left iff x <= threshold. Categorical: the index of the split's bitset. */
  threshold: Float64Array;
  /** decision_type decoded at parse time: 1 for a categorical split (bitset), 0 numerical. */
  categorical: Uint8Array;
  /** 1 when missing values go left (numerical splits with missing type Zero or NaN). */
  defaultLeft: Uint8Array;
  /** A MissingType per node (numerical splits; categorical ones ignore it). */
  missingType: Uint8Array;
  leftChild: Int32Array;
  rightChild: Int32Array;
  internalValue: Float64Array;
  internalCount: Float64Array;
  /** Per leaf. */
  leafValue: Float64Array;
  leafCount: Float64Array;
  /** Categorical bitsets: split c uses words catThreshold[catBoundaries[c] .. catBoundaries[c+1]). */
  catBoundaries: Int32Array;
  catThreshold: Uint32Array;
  /** Linear leaves (isLinear): leafConst[l] + sum leafCoeff[l][i] * x[leafFeatures[l][i]]. */
  isLinear: boolean;
  leafConst: Float64Array;
  leafFeatures: Int32Array[];
  leafCoeff: Float64Array[];
}

export interface LgbModel {
  /** Where it came from, for error messages. */
  source: string;
  numClass: number;
  numTreePerIteration: number;
  /** The model reads this many features (max_feature_idx + 1). */
  numFeatures: number;
  featureNames: string[];
  objective: string;
  transform: OutputTransform;
  /** Random-forest mode: the normal prediction divides each class's sum by the iteration count. */
  averageOutput: boolean;
  trees: LgbTree[];
  /** `pandas_categorical` trailer, when present. */
  pandasCategorical: unknown[] | null;
}
