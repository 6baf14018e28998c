// What the pickles hold, extracted and checked against the libraries' own answers: the LightGBM
// text exactly, the forest byte for byte against the Python export, the scaler against
// pipeline.json, and predictions of both project evaluators against expected_churn.csv and
// expected_effects.csv. A state of another layout (another library version) fails by name.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readCausalForest } from "../server/model/causal/load.ts";
import { parseLightGBM } from "../server/model/lightgbm/parse.ts";
import { PickleError } from "../server/pickle/errors.ts";
import { forestFromPickle } from "../server/pickle/forest.ts";
import { lightgbmFromPickle } from "../server/pickle/lightgbm.ts";
import { readPickle } from "../server/pickle/reader.ts";
import { featureColumnsFromPickle, scalerFromPickle } from "../server/pickle/sklearn.ts";
import { forestEvaluators, gbdtEvaluators } from "./helpers/evaluators.ts";
import { fixturePath, readMatrix, readText, type Matrix } from "./helpers/fixtures.ts";

const pickleBytes = (file: string) => new Uint8Array(readFileSync(fixturePath("pickles", file)));
const readFixture = (file: string) => readPickle(pickleBytes(file), file);
const pipeline = JSON.parse(readText("causal_forest", "pipeline.json")) as { feature_columns: string[]; scaler: { mean: number[]; scale: number[] } };
const columns = featureColumnsFromPickle(readFixture("feature_columns.pkl"), "feature_columns.pkl");

function column(m: Matrix, name: string): Float64Array {
  const c = m.header.indexOf(name);
  if (c < 0) throw new Error(`no column ${name}`);
  return Float64Array.from({ length: m.nRows }, (_, r) => m.data[r * m.nCols + c]);
}

/** Worst |got - want| / (abs + rel |want|): at most 1 passes (NaN counts as a failure). */
function worst(got: ArrayLike<number>, want: Float64Array, abs: number, rel: number, stride = 1, at = 0): number {
  let w = 0;
  for (let r = 0; r < want.length; r++) {
    const ratio = Math.abs(got[r * stride + at] - want[r]) / (abs + rel * Math.abs(want[r]));
    w = ratio <= w ? w : Number.isNaN(ratio) ? Infinity : ratio;
  }
  return w;
}

/** `bytes` with the first occurrence of `from` replaced by `to` (same length). */
function patched(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const a = Buffer.from(bytes);
  const at = a.indexOf(Buffer.from(from, "latin1"));
  if (at < 0 || from.length !== to.length) throw new Error(`cannot patch ${from}`);
  const out = Uint8Array.from(a);
  out.set(Buffer.from(to, "latin1"), at);
  return out;
}

const shortStr = (s: string) => `\x8c${String.fromCharCode(s.length)}${s}`;

describe("feature columns and scaler", () => {
  it("the columns are pipeline.json's", () => {
    expect(columns).toEqual(pipeline.feature_columns);
  });

  it("mean_ and scale_ equal pipeline.json exactly", () => {
    const s = scalerFromPickle(readFixture("scaler.pkl"), "scaler.pkl", columns.length);
    expect(s.mean).toEqual(pipeline.scaler.mean);
    expect(s.scale).toEqual(pipeline.scaler.scale);
    expect(s.featureNames).toBeNull();
  });

  it("honours with_mean=False (mean 0) and with_std=False (scale 1)", () => {
    const noMean = patched(pickleBytes("scaler.pkl"), `${shortStr("with_mean")}\x94\x88`, `${shortStr("with_mean")}\x94\x89`);
    const a = scalerFromPickle(readPickle(noMean, "scaler.pkl"), "scaler.pkl", 21);
    expect(a.mean).toEqual(new Array(21).fill(0));
    expect(a.scale).toEqual(pipeline.scaler.scale);
    const noStd = patched(pickleBytes("scaler.pkl"), `${shortStr("with_std")}\x94\x88`, `${shortStr("with_std")}\x94\x89`);
    const b = scalerFromPickle(readPickle(noStd, "scaler.pkl"), "scaler.pkl", 21);
    expect(b.mean).toEqual(pipeline.scaler.mean);
    expect(b.scale).toEqual(new Array(21).fill(1));
  });
});

describe("LightGBM model text", () => {
  for (const file of ["churn_model.pkl", "churn_model.joblib.pkl"]) {
    it(`${file}: the classifier's booster text equals model_from_pickle.txt exactly`, () => {
      const m = lightgbmFromPickle(readFixture(file), file);
      expect(m.pickled).toBe("lightgbm.sklearn.LGBMClassifier");
      expect(m.text === readText("pickles", "model_from_pickle.txt")).toBe(true);
    });
  }

  it("churn_booster.pkl: model.txt plus the line the pickled Booster adds, and the same model", () => {
    const m = lightgbmFromPickle(readFixture("churn_booster.pkl"), "churn_booster.pkl");
    const original = readText("lightgbm", "churn_model", "model.txt");
    expect(m.pickled).toBe("lightgbm.basic.Booster");
    expect(m.text === original).toBe(false);
    expect(m.text === `${original}\npandas_categorical:null\n`).toBe(true);
    const { source: _a, ...fromPickle } = parseLightGBM(m.text, "churn_booster.pkl") as unknown as Record<string, unknown>;
    const { source: _b, ...fromText } = parseLightGBM(original, "model.txt") as unknown as Record<string, unknown>;
    expect(fromPickle).toEqual(fromText);
  });
});

describe("causal forest", () => {
  const want = new Uint8Array(readFileSync(fixturePath("causal_forest", "causal_forest.safetensors")));
  for (const file of ["causal_forest.pkl", "causal_forest.joblib.pkl", "causal_forest.joblib-z3.pkl"]) {
    it(`${file} converts to causal_forest.safetensors byte for byte`, () => {
      const f = forestFromPickle(readFixture(file), file, { featureColumns: columns });
      expect(f.safetensors.length).toBe(want.length);
      expect(Buffer.compare(Buffer.from(f.safetensors), Buffer.from(want))).toBe(0);
      expect(f.treatments).toEqual(["none", "email_nudge", "discount_199", "retention_call", "free_upgrade"]);
      expect(f.control).toBe("none");
    });
  }
});

describe("parity with the libraries' predictions", () => {
  const expected = readMatrix("pickles", "expected_churn.csv");
  const x = readMatrix("pickles", "test_features.csv");
  const cases = [
    { file: "churn_model.pkl", prob: "prob", raw: "raw" },
    { file: "churn_booster.pkl", prob: "prob_booster", raw: "raw_booster" },
  ];
  for (const [name, make] of Object.entries(gbdtEvaluators)) {
    for (const c of cases) {
      it(`${c.file}, ${name} evaluator: ${c.prob} and ${c.raw} to 1e-12`, async () => {
        const model = parseLightGBM(lightgbmFromPickle(readFixture(c.file), c.file).text, c.file);
        const ev = await make(model);
        expect(worst(ev.predict(x.data, x.nRows), column(expected, c.prob), 1e-12, 0)).toBeLessThanOrEqual(1);
        expect(worst(ev.predictRaw(x.data, x.nRows), column(expected, c.raw), 1e-12, 0)).toBeLessThanOrEqual(1);
      });
    }
  }

  const effects = readMatrix("pickles", "expected_effects.csv");
  const xs = readMatrix("pickles", "test_X_scaled.csv");
  const forest = readCausalForest(forestFromPickle(readFixture("causal_forest.pkl"), "causal_forest.pkl", { featureColumns: columns }).safetensors, "causal_forest.pkl");
  for (const [name, make] of Object.entries(forestEvaluators)) {
    it(`causal_forest.pkl, ${name} evaluator: every column of expected_effects.csv to 1e-12 + 1e-9 |want|`, async () => {
      expect(xs.header).toEqual(forest.featureColumns);
      const ev = await make(forest);
      const all = ev.effects(xs.data, xs.nRows, 0.05);
      const n = all.contrasts.length;
      forest.treatmentColumns.forEach((arm, c) => {
        for (const field of ["effect", "lower", "upper", "stderr"] as const) {
          expect(worst(all[field], column(effects, `${field}_${arm}`), 1e-12, 1e-9, n, c), `${field}_${arm}`).toBeLessThanOrEqual(1);
        }
      });
      const contrasts = [{ t0: "email_nudge", t1: "discount_199" }, { t0: "none", t1: "retention_call" }];
      const at05 = ev.effects(xs.data, xs.nRows, 0.05, contrasts);
      for (const field of ["effect", "lower", "upper"] as const) {
        expect(worst(at05[field], column(effects, `${field}_discount_199_vs_email_nudge`), 1e-12, 1e-9, 2, 0)).toBeLessThanOrEqual(1);
      }
      const at10 = ev.effects(xs.data, xs.nRows, 0.1, contrasts);
      expect(worst(at10.lower, column(effects, "lower90_retention_call"), 1e-12, 1e-9, 2, 1)).toBeLessThanOrEqual(1);
      expect(worst(at10.upper, column(effects, "upper90_retention_call"), 1e-12, 1e-9, 2, 1)).toBeLessThanOrEqual(1);
    });
  }
});

describe("another library version's layout fails naming the class and the field", () => {
  function drift(file: string, from: string, to: string, extract: (v: ReturnType<typeof readPickle>) => unknown): string {
    const v = readPickle(patched(pickleBytes(file), shortStr(from), shortStr(to)), file);
    try {
      extract(v);
    } catch (err) {
      expect(err).toBeInstanceOf(PickleError);
      return (err as Error).message;
    }
    throw new Error("expected a PickleError");
  }

  it("StandardScaler without scale_", () => {
    const msg = drift("scaler.pkl", "scale_", "scalf_", (v) => scalerFromPickle(v, "scaler.pkl", 21));
    expect(msg).toMatch(/^scaler\.pkl: sklearn\.preprocessing\._data\.StandardScaler field "scale_" \(at scaler\.scale_\): missing; .*scikit-learn 1\.2\.1/);
  });

  it("Booster whose text model is not under _handle (LightGBM 3 named it handle)", () => {
    const msg = drift("churn_booster.pkl", "_handle", "handle_", (v) => lightgbmFromPickle(v, "churn_booster.pkl"));
    expect(msg).toMatch(/lightgbm\.basic\.Booster field "_handle"/);
    expect(msg).toMatch(/lightgbm 4\.6\.0/);
  });

  it("a Booster trained with early stopping is refused (its text holds more iterations than it predicts with)", () => {
    const bytes = patched(pickleBytes("churn_booster.pkl"), `${shortStr("best_iteration")}\x94J\xff\xff\xff\xff`, `${shortStr("best_iteration")}\x94J\x64\x00\x00\x00`);
    expect(() => lightgbmFromPickle(readPickle(bytes, "churn_booster.pkl"), "churn_booster.pkl")).toThrow(/lightgbm\.basic\.Booster field "best_iteration" .*early stopping \(best iteration 100\)/);
  });

  it("LGBMClassifier without _Booster", () => {
    const msg = drift("churn_model.pkl", "_Booster", "_Boosted", (v) => lightgbmFromPickle(v, "churn_model.pkl"));
    expect(msg).toMatch(/lightgbm\.sklearn\.LGBMClassifier field "_Booster"/);
  });

  it("CausalForest without slices_", () => {
    const msg = drift("causal_forest.pkl", "slices_", "slicez_", (v) => forestFromPickle(v, "causal_forest.pkl", { featureColumns: columns }));
    expect(msg).toMatch(/econml\.grf\.classes\.CausalForest field "slices_" \(at est\._ortho_learner_model_final\._model_final\._model\.estimators_\[0\]\.slices_\): missing/);
    expect(msg).toMatch(/econml 0\.15\.1/);
  });

  it("Tree without precond", () => {
    const msg = drift("causal_forest.pkl", "precond", "precont", (v) => forestFromPickle(v, "causal_forest.pkl", { featureColumns: columns }));
    expect(msg).toMatch(/econml\.tree\._tree\.Tree field "precond" \(at .*\.estimators_\[0\]\.tree_\.precond\): missing/);
  });

  it("tree nodes whose records lack a field", () => {
    const msg = drift("causal_forest.pkl", "threshold", "threshole", (v) => forestFromPickle(v, "causal_forest.pkl", { featureColumns: columns }));
    expect(msg).toMatch(/econml\.tree\._tree\.Tree field "nodes" .*the records have no field "threshold"/);
  });

  it("a forest whose recorded columns differ from the feature columns", () => {
    const msg = drift("causal_forest.pkl", "X0", "Z0", (v) => forestFromPickle(v, "causal_forest.pkl", { featureColumns: columns }));
    expect(msg).toMatch(/CausalForestDML field "_input_names" .*the forest was fitted on columns \["Z0","X1",/);
  });

  it("a class renamed in another version is refused as a global, with the known versions", () => {
    expect(() => readPickle(patched(pickleBytes("causal_forest.pkl"), "MultiOutputGRF", "MultiOutputGRX"), "causal_forest.pkl"))
      .toThrow(/refused global econml\.grf\.classes\.MultiOutputGRX .*known versions \(.*econml 0\.15\.1\)/);
  });
});
