// What every evaluator of the two models offers: the WebAssembly core and the TypeScript
// reference implement the same interfaces, and one conformance suite runs both.
// Rows are row-major float64 matrices (nRows x numFeatures); NaN is a missing value.

export interface GbdtEvaluator {
  readonly numFeatures: number;
  readonly numClass: number;
  readonly numTrees: number;
  /** nRows x numClass raw scores (plain sums, never averaged). */
  predictRaw(rows: Float64Array, nRows: number): Float64Array;
  /** nRows x numClass transformed predictions. */
  predict(rows: Float64Array, nRows: number): Float64Array;
  /** nRows x numTrees leaf indices. */
  predictLeaf(rows: Float64Array, nRows: number): Int32Array;
  /** nRows x numClass x (numFeatures + 1) SHAP contributions, expected value last per class. */
  predictContrib(rows: Float64Array, nRows: number): Float64Array;
}

/** An effect of moving from arm `t0` to arm `t1` (names from the forest's `treatments`). */
export interface Contrast {
  t0: string;
  t1: string;
}

/** Row-major nRows x nContrasts blocks. */
export interface EffectResult {
  nRows: number;
  contrasts: Contrast[];
  effect: Float64Array;
  lower: Float64Array;
  upper: Float64Array;
  stderr: Float64Array;
}

export interface ForestEvaluator {
  readonly numFeatures: number;
  /** The arms other than the control, in the forest's parameter order. */
  readonly arms: string[];
  readonly control: string;
  /**
   * Effects with intervals at level `alpha` (EconML `effect` / `effect_interval` /
   * `effect_inference().stderr`). Default contrasts: control -> each arm, in `arms` order.
   */
  effects(rows: Float64Array, nRows: number, alpha: number, contrasts?: Contrast[]): EffectResult;
}
