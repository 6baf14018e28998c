// The allow-list: exactly the globals that the original design's pickles reference (shared
// fixtures/pickles/README.md "Globals per file"), each with the one use it has there. A pickle
// names a global and Python would import and call it; here a known name only selects which plain
// record to build, and any other name is refused before anything else happens.
import { describe, makeArray, makeDtype, makeScalar, type Fail } from "./numpy.ts";
import { knownVersionsText } from "./versions.ts";
import { PyObject, type PickleValue, type PyDict } from "./values.ts";

export const NUMPY_ARRAY_WRAPPER = "joblib.numpy_pickle.NumpyArrayWrapper";

/**
 * "class": instantiated by NEWOBJ with no arguments, then BUILD with its `__dict__`.
 * "reduce": called by REDUCE; `make` builds the value from the arguments without calling anything.
 * "value": only passed around as an argument (e.g. `numpy.ndarray` given to `_reconstruct`).
 */
export type GlobalUse = { use: "class" } | { use: "reduce"; make: (args: PickleValue[], fail: Fail) => PickleValue } | { use: "value" };

const CLASS: GlobalUse = { use: "class" };
const VALUE: GlobalUse = { use: "value" };

/** A Cython object rebuilt by REDUCE(cls, args) and then BUILD: the record keeps args and state. */
const reducedObject = (name: string): GlobalUse => ({ use: "reduce", make: (args) => new PyObject(name, args) });

const CLASSES = [
  "econml.dml.causal_forest.CausalForestDML",
  "econml.dml.causal_forest._CausalForestFinalWrapper",
  "econml.dml.causal_forest._GenericSingleOutcomeModelFinalWithCovInference",
  "econml.dml._rlearner._ModelFinal",
  "econml.dml._rlearner._ModelNuisance",
  "econml.dml.dml._FirstStageSelector",
  "econml.sklearn_extensions.model_selection.FixedModelSelector",
  "econml.grf.classes.MultiOutputGRF",
  "econml.grf.classes.CausalForest",
  "econml.grf._base_grftree.GRFTree",
  "sklearn.ensemble._gb.GradientBoostingRegressor",
  "sklearn.ensemble._gb.GradientBoostingClassifier",
  "sklearn.ensemble._gb_losses.LeastSquaresError",
  "sklearn.ensemble._gb_losses.MultinomialDeviance",
  "sklearn.dummy.DummyRegressor",
  "sklearn.dummy.DummyClassifier",
  "sklearn.tree._classes.DecisionTreeRegressor",
  "sklearn.preprocessing._encoders.OneHotEncoder",
  "sklearn.preprocessing._data.StandardScaler",
  "sklearn.preprocessing._label.LabelEncoder",
  "lightgbm.sklearn.LGBMClassifier",
  "lightgbm.basic.Booster",
  NUMPY_ARRAY_WRAPPER,
];

export const ALLOWED: ReadonlyMap<string, GlobalUse> = new Map<string, GlobalUse>([
  ...CLASSES.map((name): [string, GlobalUse] => [name, CLASS]),
  ["numpy.ndarray", VALUE],
  ["numpy.float64", VALUE],
  ["collections.OrderedDict", VALUE],
  ["numpy.random._pickle.__bit_generator_ctor", VALUE],
  ["numpy.dtype", { use: "reduce", make: makeDtype }],
  ["numpy.core.multiarray._reconstruct", { use: "reduce", make: makeArray }],
  ["numpy.core.multiarray.scalar", { use: "reduce", make: makeScalar }],
  ["econml.tree._tree.Tree", reducedObject("econml.tree._tree.Tree")],
  ["sklearn.tree._tree.Tree", reducedObject("sklearn.tree._tree.Tree")],
  ["numpy.random._pickle.__randomstate_ctor", reducedObject("numpy.random._pickle.__randomstate_ctor")],
  // defaultdict(OrderedDict): a dict whose items follow through SETITEMS; the factory is dropped.
  ["collections.defaultdict", { use: "reduce", make: makeDefaultDict }],
  // joblib's nested protocol-2 pickles write bytes as _codecs.encode(str, "latin1").
  ["_codecs.encode", { use: "reduce", make: latin1Bytes }],
]);

function makeDefaultDict(args: PickleValue[], fail: Fail): PyDict {
  if (args.length > 1) fail(`collections.defaultdict: expected (factory,), got ${args.length} arguments`);
  return new Map();
}

function latin1Bytes(args: PickleValue[], fail: Fail): Uint8Array {
  const [text, encoding] = args;
  if (args.length !== 2 || typeof text !== "string" || (encoding !== "latin1" && encoding !== "latin-1")) {
    fail(`_codecs.encode: expected (str, "latin1"), got (${args.map(describe).join(", ")})`);
  }
  const s = text as string;
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) fail(`_codecs.encode: character U+${c.toString(16).padStart(4, "0")} at ${i} is not latin1`);
    out[i] = c;
  }
  return out;
}

/** The allow-list entry for `module.name`, or a refusal that names the global. */
export function resolveGlobal(module: string, name: string, nested: boolean, fail: Fail): GlobalUse {
  const full = `${module}.${name}`;
  const use = ALLOWED.get(full);
  if (use === undefined) {
    const family = /^(numpy|sklearn|lightgbm|econml|joblib)\./.exec(full);
    const hint = family
      ? ` It belongs to a library whose pickles are read only in the layouts of known versions (${knownVersionsText()}); a different version may name other globals.`
      : "";
    fail(`refused global ${full} (module ${JSON.stringify(module)}, name ${JSON.stringify(name)}): only the NumPy, scikit-learn, LightGBM, EconML and joblib globals of the original design's model pickles are understood, and nothing in a pickle is ever executed.${hint}`);
  }
  // joblib loads an object array's nested pickle with the plain unpickler: no wrappers there.
  if (nested && full === NUMPY_ARRAY_WRAPPER) fail(`refused global ${full} inside the nested pickle of a joblib object array`);
  return use!;
}
