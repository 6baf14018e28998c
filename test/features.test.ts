// The manifest-driven feature pipeline: validation collects every problem by path; encoding
// matches the fixtures' scaled matrix; property tests over arbitrary requests.
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FeatureColumns, Manifest, Scaler } from "../server/contract/bundle.ts";
import { Pipeline } from "../server/features/pipeline.ts";
import type { FieldIssue } from "../server/contract/errors.ts";
import { readMatrix } from "./helpers/fixtures.ts";
import { FIELDS, readCsvRecords } from "./helpers/customers.ts";

const json = (f: string) => JSON.parse(readFileSync(`models/${f}`, "utf8"));
const manifest = Manifest.parse(json("manifest.json"));
const pipeline = new Pipeline(manifest.fields, FeatureColumns.parse(json("feature_columns.json")), Scaler.parse(json("scaler.json")));

function resolve(req: Record<string, unknown>, stored?: Record<string, number | string | boolean | null>) {
  const issues: FieldIssue[] = [];
  return { resolved: pipeline.resolve(req, stored, [], issues), issues };
}

describe("feature pipeline", () => {
  it("encodes the test customers exactly as the fixtures' scaled matrix (the models' input)", () => {
    const customers = readCsvRecords(2000);
    const want = readMatrix("causal_forest", "test_X_scaled.csv");
    const row = new Float64Array(pipeline.width);
    customers.forEach((c, r) => {
      const { resolved } = resolve(c);
      pipeline.encode(resolved!, row, 0);
      for (let k = 0; k < pipeline.width; k++) expect(row[k]).toBe(want.data[r * want.nCols + k]);
    });
  });

  it("imputes omitted and null fields, and looks up the store only for omitted ones", () => {
    const stored = { tenure: 40, total_charges: 999 };
    const { resolved } = resolve({ customer_id: "c", tenure: 3, total_charges: null }, stored);
    expect(resolved!.values.tenure).toBe(3);
    expect(resolved!.values.total_charges).toBe(1522.39); // explicit null: imputed, not looked up
    expect(resolved!.imputed).toContain("total_charges");
    const fromStore = resolve({ customer_id: "c" }, stored).resolved!;
    expect(fromStore.values.tenure).toBe(40);
    expect(fromStore.imputed).not.toContain("tenure");
  });

  it("accepts booleans as true/false or 0/1 and nothing else", () => {
    expect(resolve({ senior_citizen: true }).resolved!.values.senior_citizen).toBe(1);
    expect(resolve({ senior_citizen: 0 }).resolved!.values.senior_citizen).toBe(0);
    expect(resolve({ senior_citizen: "yes" }).issues.map((i) => i.path)).toEqual([["senior_citizen"]]);
  });

  it("maps an unknown category to all zeros where the manifest says so, and reports it", () => {
    const { resolved } = resolve({ payment_method: "Crypto" });
    expect(resolved!.unknown).toEqual([{ field: "payment_method", value: "Crypto" }]);
    const row = new Float64Array(pipeline.width);
    pipeline.encode(resolved!, row, 0);
    const cols = pipeline.columns.map((c, i) => [c, i] as const).filter(([c]) => c.startsWith("payment_method_"));
    const scaler = Scaler.parse(json("scaler.json"));
    for (const [, i] of cols) expect(row[i]).toBeCloseTo((0 - scaler.mean[i]) / scaler.scale[i], 12);
  });

  it("refuses an unknown category of a strict field, naming the allowed values", () => {
    const { issues } = resolve({ contract_type: "Weekly" });
    expect(issues).toEqual([{ path: ["contract_type"], message: 'unknown category "Weekly"; expected one of "Month-to-month", "One year", "Two year"' }]);
  });

  it("never throws, and either resolves or lists problems only under known paths (property)", () => {
    const value = fc.oneof(fc.double(), fc.integer(), fc.string(), fc.boolean(), fc.constant(null), fc.constantFrom("DSL", "No", "Two year"));
    const key = fc.oneof(fc.constantFrom(...FIELDS), fc.string({ minLength: 1, maxLength: 8 }));
    fc.assert(
      fc.property(fc.dictionary(key, value), (req) => {
        const { resolved, issues } = resolve(req);
        if (resolved) {
          expect(issues).toEqual([]);
          const row = new Float64Array(pipeline.width);
          pipeline.encode(resolved, row, 0);
          for (const x of row) expect(Number.isFinite(x)).toBe(true);
        } else {
          expect(issues.length).toBeGreaterThan(0);
          for (const i of issues) expect(Object.keys(req)).toContain(i.path[0]);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
