// The LightGBM parser refuses every malformed or unsupported file with the file, the line or key,
// and what was expected; random corruption never escapes as another kind of error.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ModelFormatError } from "../server/model/errors.ts";
import { parseLightGBM } from "../server/model/lightgbm/parse.ts";
import { readText } from "./helpers/fixtures.ts";

const good = readText("lightgbm", "native_categorical", "model.txt");
const parse = (text: string) => parseLightGBM(text, "model.txt");

/** Replaces the first line starting with `prefix` (after `after`, if given). */
function replaceLine(text: string, prefix: string, line: string, after = ""): string {
  const start = text.indexOf(after);
  const at = text.indexOf(`\n${prefix}`, start) + 1;
  const end = text.indexOf("\n", at);
  return text.slice(0, at) + line + text.slice(end);
}

const cases: [string, string, RegExp][] = [
  ["an empty file", "", /model\.txt: line 1: expected a LightGBM text model/],
  ["a truncated file", good.slice(0, good.length / 2), /model\.txt: line \d+: expected "end of trees": the file is truncated|model\.txt: line \d+ \(Tree=\d+ \w+\)/],
  ["a wrong count", replaceLine(good, "leaf_value=", "leaf_value=1 2 3", "Tree=0"), /line \d+ \(Tree=0 leaf_value\): expected \d+ values, got 3/],
  ["a bad number", replaceLine(good, "threshold=", "threshold=1.5 abc", "Tree=0"), /Tree=0 threshold\)/],
  ["unknown decision bits", replaceLine(good, "decision_type=", "decision_type=" + "16 ".repeat(30).trim(), "Tree=0"), /node 0 has decision_type 16; expected bits 0/],
  ["a child out of range", replaceLine(good, "left_child=", "left_child=" + "999 ".repeat(30).trim(), "Tree=0"), /node 0 has child node 999/],
  ["an unknown objective", good.replace("objective=binary sigmoid:1", "objective=foo"), /unknown objective "foo"/],
  ["a num_class mismatch", good.replace("num_class=1", "num_class=3").replace("num_tree_per_iteration=1", "num_tree_per_iteration=3"), /expected 1 for objective "binary", got 3/],
  ["no trees", good.slice(0, good.indexOf("Tree=0")) + "end of trees\n", /the model has no trees/],
  ["a feature name count mismatch", good.replace(/feature_names=\S+ /, "feature_names="), /expected \d+ names/],
];

describe("malformed LightGBM files", () => {
  for (const [what, text, message] of cases) {
    it(`refuses ${what}`, () => {
      expect(() => parse(text)).toThrow(ModelFormatError);
      expect(() => parse(text)).toThrow(message);
    });
  }

  it("refuses a categorical split index out of range and bad bitset offsets", () => {
    const model = parse(good);
    const t = model.trees.findIndex((tr) => tr.numCat > 0);
    const bad = replaceLine(good, "cat_boundaries=", "cat_boundaries=0 5 2", `Tree=${t}\n`);
    expect(() => parse(bad)).toThrow(/cat_boundaries/);
    // A categorical node whose threshold points past the tree's categorical splits.
    const tree = model.trees[t];
    const node = tree.categorical.indexOf(1);
    const thresholds = Array.from(tree.threshold, (v, i) => (i === node ? String(tree.numCat) : v.toPrecision(17)));
    const pastEnd = replaceLine(good, "threshold=", "threshold=" + thresholds.join(" "), `Tree=${t}\n`);
    expect(() => parse(pastEnd)).toThrow(new RegExp(`categorical node ${node} has threshold ${tree.numCat}; expected a categorical split index 0\\.\\.${tree.numCat - 1}`));
  });

  it("any single-line corruption or truncation parses or throws ModelFormatError (property)", () => {
    const lines = good.split("\n");
    fc.assert(
      fc.property(fc.nat(lines.length - 1), fc.string({ maxLength: 20 }), fc.boolean(), (i, junk, truncate) => {
        const changed = truncate ? lines.slice(0, i).join("\n") : [...lines.slice(0, i), junk, ...lines.slice(i + 1)].join("\n");
        try {
          parse(changed);
        } catch (err) {
          expect(err).toBeInstanceOf(ModelFormatError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("numbers printed with 17 significant digits round-trip exactly (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 30, maxLength: 30 }), (values) => {
        const text = replaceLine(good, "threshold=", "threshold=" + values.map((v) => v.toPrecision(17)).join(" "), "Tree=0");
        try {
          const m = parse(text);
          m.trees[0].threshold.forEach((t, k) => {
            if (!m.trees[0].categorical[k]) expect(Object.is(t, values[k]) || t === values[k]).toBe(true);
          });
        } catch (err) {
          // Categorical nodes need integer thresholds: that refusal is the parser's job.
          expect((err as Error).message).toMatch(/categorical node/);
        }
      }),
      { numRuns: 100 },
    );
  });
});
