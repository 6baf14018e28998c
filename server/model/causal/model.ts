// An EconML CausalForestDML final-stage forest as exported to safetensors
// (format "econml-causal-forest/1"; see the README's model-bundle section).

export interface CausalForest {
  source: string;
  nTrees: number;
  nFeatures: number;
  featureColumns: string[];
  /** All arms, index 0 the control. */
  treatments: string[];
  control: string;
  /** Order of the first `nRelevantOutputs` parameters (arm vs control). */
  treatmentColumns: string[];
  nOutputs: number; // p
  nRelevantOutputs: number; // d
  fitIntercept: boolean;
  /** Tree t owns global nodes [treeNodeOffsets[t], treeNodeOffsets[t+1]). */
  treeNodeOffsets: Int32Array;
  childrenLeft: Int32Array; // tree-local, -1 at a leaf
  childrenRight: Int32Array;
  feature: Int32Array;
  threshold: Float64Array;
  leafIndex: Int32Array; // global leaf row, -1 at internal nodes
  leafAlpha: Float64Array; // [nLeaves, p]
  leafJac: Float64Array; // [nLeaves, p, p]
  subforestOffsets: Int32Array; // [S+1], in trees
  metadata: Record<string, string>;
}
