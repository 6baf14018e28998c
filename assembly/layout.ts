// The memory layout shared by the WebAssembly core (assembly/*.ts) and the host that writes the
// model tables (server/wasm/*.ts): the one definition of every offset, size, flag and code that
// crosses the boundary. Written in the subset both compilers accept (plain integer constants), so
// asc and tsc read this same file. All offsets are in bytes.

// ---- LightGBM model header (i32 slots unless noted; pointers are byte addresses) ----
export const GBDT_N_TREES = 0;
export const GBDT_N_CLASS = 4;
export const GBDT_N_FEATURES = 8;
/** Child code of each tree's root (i64 per tree). */
export const GBDT_ROOTS = 12;
/** The node table; a child code's high word is a byte offset from it. */
export const GBDT_NODES = 16;
/** Categorical bitset words (u32), all trees back to back. */
export const GBDT_CAT_WORDS = 20;
/** Global index of each tree's first leaf (i32 per tree), to report leaf indices within a tree. */
export const GBDT_LEAF_BASE = 24;
/** The objective's output transform (one of the TRANSFORM_* codes). */
export const GBDT_TRANSFORM = 28;
/** 1 in random-forest mode: the normal prediction divides by the number of iterations. */
export const GBDT_AVERAGE_OUTPUT = 32;
/** Model flags (GBDT_FLAG_*). */
export const GBDT_FLAGS = 36;
/** The sigmoid parameter (f64). */
export const GBDT_SIGMOID = 40;
/** Linear leaves (LINEAR_LEAF_BYTES per global leaf), or 0 when no tree is linear. */
export const GBDT_LINEAR = 48;
/** Feature indices (i32) and coefficients (f64) of all linear leaves. */
export const GBDT_LIN_FEATURES = 52;
export const GBDT_LIN_COEFFS = 56;
/** Cover of each internal node (f64, by global node index) and of each leaf (f64, by global leaf). */
export const GBDT_NODE_COUNT = 60;
export const GBDT_LEAF_COUNT = 64;
export const GBDT_MAX_DEPTH = 68;
/** Expected value of each tree (f64 per tree), for SHAP contributions. */
export const GBDT_EXPECTED = 72;
/** Node kinds (NODE_* flags, u8): a node's at its byte offset / 8, so that no divide finds it. */
export const GBDT_KINDS = 76;
export const GBDT_HEADER_BYTES = 80;

/** No categorical and no Zero-missing split: rows without NaN need only `x <= threshold`. */
export const GBDT_FLAG_PLAIN = 1;
/** Every split numerical with missing type None, no linear tree: NaN is 0 everywhere. */
export const GBDT_FLAG_NAN_AS_ZERO = 2;

// ---- Child codes (both models' nodes; assembly/walk.ts): an i64 that carries what a step needs
// before it reads the child. High word: the child's byte offset from the node table (internal
// nodes at >= 0, leaves below). Low word: the byte offset in a row of the feature the child splits
// on (0 for a leaf) ----

// ---- Tree node, both models: threshold f64 | left child code i64 | right child code i64. Leaves
// below the table (leaf l at -(l + 1) * NODE_BYTES), as nodes whose children are themselves ----
export const NODE_BYTES = 24;
export const NODE_THRESHOLD = 0; // f64
export const NODE_LEFT = 8; // i64 child code
export const NODE_RIGHT = 16; // i64 child code
// LightGBM: a categorical split's bitset in its threshold slot, a leaf's value in its own.
export const NODE_CAT_FIRST_WORD = 0; // u32: the bitset's first word
export const NODE_CAT_WORD_COUNT = 4; // u32 beside it: the bitset's word count
export const LEAF_VALUE = 0; // f64, in a leaf

// ---- Node kinds (NODE_* flags, in GBDT_KINDS; 0 for a leaf) ----
/** Where NaN goes (the missing type folded in at load). */
export const NODE_NAN_LEFT = 1;
/** Missing type Zero: a zero goes the default way. */
export const NODE_ZERO_MISSING = 2;
export const NODE_DEFAULT_LEFT = 4;
export const NODE_CATEGORICAL = 8;

// ---- A linear leaf: const f64 | first feature (index into the feature/coefficient lists) | count ----
export const LINEAR_LEAF_BYTES = 16;
export const LINEAR_CONST = 0;
export const LINEAR_START = 8;
export const LINEAR_COUNT = 12;

// ---- Output transforms ----
export const TRANSFORM_IDENTITY = 0;
export const TRANSFORM_SIGMOID = 1;
export const TRANSFORM_SOFTMAX = 2;
export const TRANSFORM_OVA = 3;
export const TRANSFORM_EXP = 4;
export const TRANSFORM_LOG1PEXP = 5;
export const TRANSFORM_SQUARE = 6;

// ---- TreeSHAP path element: feature i32 | zero fraction f64 | one fraction f64 | pweight f64 ----
export const PATH_ELEMENT_BYTES = 32;

// ---- Causal forest header (i32 slots; pointers are byte addresses) ----
export const FOREST_N_TREES = 0;
/** Parameters per leaf (p: the arms, then the intercept). */
export const FOREST_N_OUTPUTS = 4;
export const FOREST_N_FEATURES = 8;
/** Child code of each tree's root (i64 per tree). */
export const FOREST_ROOTS = 12;
export const FOREST_NODES = 16;
/** Per leaf: alpha (p), then the upper triangle of its symmetric Jacobian row by row (f64). */
export const FOREST_LEAF_STATS = 20;
/** Subforest s = trees [offsets[s], offsets[s + 1]) (i32, S + 1 entries). */
export const FOREST_SUBFOREST_OFFSETS = 24;
export const FOREST_N_SUBFORESTS = 28;
/** Size of the first subforest (B, the divisor in the variance correction). */
export const FOREST_SUBFOREST_SIZE = 32;
export const FOREST_HEADER_BYTES = 40;

// ---- Causal-forest nodes are tree nodes (above); leaf l is the one whose statistics are row l ----
export const FOREST_LEAF_STATS_OFFSET = 0; // i32, in a leaf (its threshold slot): byte offset of its row in the leaf statistics

// ---- Causal-forest output: per row and contrast, these f64 fields ----
export const EFFECT_POINT = 0;
export const EFFECT_LOWER = 1;
export const EFFECT_UPPER = 2;
export const EFFECT_STDERR = 3;
export const EFFECT_FIELDS = 4;
