// The contract's typed view of the default bundle stays true to models/manifest.json: every field
// with its kind, every category with its values.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { DefaultBundleFields } from "../server/contract/api.ts";
import { Manifest } from "../server/contract/bundle.ts";

const manifest = Manifest.parse(JSON.parse(readFileSync("models/manifest.json", "utf8")));

describe("DefaultBundleFields", () => {
  it("names exactly the manifest's fields", () => {
    expect(Object.keys(DefaultBundleFields.shape).sort()).toEqual(Object.keys(manifest.fields).sort());
  });

  it("types each field as the manifest declares it", () => {
    for (const [field, spec] of Object.entries(manifest.fields)) {
      const schema = DefaultBundleFields.shape[field as keyof typeof DefaultBundleFields.shape];
      const accepts = (v: unknown) => schema.safeParse(v).success;
      expect(accepts(null), field).toBe(true);
      if (spec.type === "number" || spec.type === "integer") {
        expect([accepts(3), accepts("3")], field).toEqual([true, false]);
      } else if (spec.type === "boolean") {
        expect([accepts(true), accepts(1), accepts("true")], field).toEqual([true, true, false]);
      } else if (spec.type === "category" && spec.unknown === "zeros") {
        expect(accepts("anything at all"), field).toBe(true);
      } else if (spec.type === "category") {
        const inner = schema.unwrap().unwrap() as z.ZodEnum;
        expect(inner.options, field).toEqual(spec.values);
      }
    }
  });
});
