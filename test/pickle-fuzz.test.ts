// Corrupted fixture files: truncated, bytes flipped, lengths overwritten. Each must give either a
// valid read or the reader's own PickleError (also from the extraction that follows), never
// another exception, a hang or a crash. The 14 MB causal-forest files get few runs each.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PickleError } from "../server/pickle/errors.ts";
import { forestFromPickle } from "../server/pickle/forest.ts";
import { lightgbmFromPickle } from "../server/pickle/lightgbm.ts";
import { readPickle } from "../server/pickle/reader.ts";
import { featureColumnsFromPickle, scalerFromPickle } from "../server/pickle/sklearn.ts";
import type { PickleValue } from "../server/pickle/values.ts";
import { fixturePath } from "./helpers/fixtures.ts";

const COLUMNS = featureColumnsFromPickle(readPickle(readFileSync(fixturePath("pickles", "feature_columns.pkl")), "feature_columns.pkl"), "feature_columns.pkl");

const EXTRACT: Record<string, (v: PickleValue, file: string) => unknown> = {
  "feature_columns.pkl": featureColumnsFromPickle,
  "scaler.pkl": (v, f) => scalerFromPickle(v, f, COLUMNS.length),
  "churn_model.pkl": lightgbmFromPickle,
  "churn_model.joblib.pkl": lightgbmFromPickle,
  "churn_booster.pkl": lightgbmFromPickle,
  "causal_forest.pkl": (v, f) => forestFromPickle(v, f, { featureColumns: COLUMNS }),
  "causal_forest.joblib.pkl": (v, f) => forestFromPickle(v, f, { featureColumns: COLUMNS }),
  "causal_forest.joblib-z3.pkl": (v, f) => forestFromPickle(v, f, { featureColumns: COLUMNS }),
};

/** PICKLE_FUZZ_SCALE=50 multiplies the runs for a longer search than the suite's few seconds. */
const SCALE = Number(process.env.PICKLE_FUZZ_SCALE ?? 1);

const SMALL = ["feature_columns.pkl", "scaler.pkl", "churn_model.pkl", "churn_model.joblib.pkl", "churn_booster.pkl"];
const BIG = ["causal_forest.pkl", "causal_forest.joblib.pkl", "causal_forest.joblib-z3.pkl"];

/** "ok" or "refused" (a PickleError); anything else thrown fails the property. Slow counts as a hang. */
function outcome(bytes: Uint8Array, file: string): "ok" | "refused" {
  const t0 = performance.now();
  try {
    EXTRACT[file](readPickle(bytes, file), file);
    return "ok";
  } catch (err) {
    if (err instanceof PickleError) return "refused";
    throw err;
  } finally {
    expect(performance.now() - t0).toBeLessThan(5000);
  }
}

/** Positions: half anywhere, half in the first and last 4 KiB where the structure (not the bulk data) is. */
const position = (len: number) =>
  fc.oneof(fc.integer({ min: 0, max: len - 1 }), fc.integer({ min: 0, max: Math.min(len, 4096) - 1 }), fc.integer({ min: Math.max(0, len - 4096), max: len - 1 }));

function properties(file: string, runs: number) {
  const original = new Uint8Array(readFileSync(fixturePath("pickles", file)));
  const len = original.length;

  it(`${file}: truncated anywhere, refused`, () => {
    fc.assert(
      fc.property(position(len), (cut) => {
        expect(outcome(original.subarray(0, cut), file)).toBe("refused");
      }),
      { numRuns: Math.round(runs * SCALE) },
    );
  });

  it(`${file}: flipped bytes, a valid read or refused`, () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(position(len), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (flips) => {
        const bytes = original.slice();
        for (const [at, v] of flips) bytes[at] = v;
        outcome(bytes, file);
      }),
      { numRuns: Math.round(runs * SCALE) },
    );
  });

  it(`${file}: a length field overwritten (4 or 8 bytes), a valid read or refused`, () => {
    const width = fc.constantFrom(4, 8);
    fc.assert(
      fc.property(position(len), width, fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (at, w, value) => {
        const bytes = original.slice();
        const view = new DataView(bytes.buffer);
        const start = Math.min(at, len - w);
        if (w === 8) view.setBigUint64(start, value, true);
        else view.setUint32(start, Number(value & 0xffffffffn), true);
        outcome(bytes, file);
      }),
      { numRuns: Math.round(runs * SCALE) },
    );
  });
}

describe("corrupted small pickles", () => {
  for (const file of SMALL) properties(file, file === "churn_booster.pkl" || file.startsWith("churn_model") ? 60 : 200);
});

describe("corrupted causal-forest pickles", () => {
  for (const file of BIG) properties(file, 6);
});
