// The causal-forest export is refused, with the tensor or key and what was expected, whenever
// it is malformed or inconsistent; random corruption never escapes as another kind of error.
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ModelFormatError } from "../server/model/errors.ts";
import { readCausalForest } from "../server/model/causal/load.ts";
import { fixturePath } from "./helpers/fixtures.ts";

const good = new Uint8Array(readFileSync(fixturePath("causal_forest", "causal_forest.safetensors")));
const headerLength = Number(new DataView(good.buffer).getBigUint64(0, true));
const header = JSON.parse(new TextDecoder().decode(good.subarray(8, 8 + headerLength)));
const data = good.subarray(8 + headerLength);

/** Rebuilds the file with a changed header (and optionally other data). */
function withHeader(change: (h: any) => void, body: Uint8Array = data): Uint8Array {
  const h = structuredClone(header);
  change(h);
  const json = new TextEncoder().encode(JSON.stringify(h));
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

const read = (bytes: Uint8Array) => readCausalForest(bytes, "cf.safetensors");

const cases: [string, () => Uint8Array, RegExp][] = [
  ["a truncated file", () => good.subarray(0, 5), /cf\.safetensors: header: expected at least 8 bytes/],
  ["a header length beyond the file", () => good.subarray(0, 8 + headerLength - 10), /header length \d+ runs past the end/],
  ["a header that is not JSON", () => { const b = good.slice(); b[8] = 0x7b; b[9] = 0x7b; return b; }, /header: expected a UTF-8 JSON object/],
  ["data offsets out of bounds", () => withHeader((h) => (h.threshold.data_offsets[1] += 8)), /tensor threshold: /],
  ["overlapping tensors", () => withHeader((h) => { h.feature.data_offsets = [...h.children_left.data_offsets]; }), /overlaps|hole/],
  ["a wrong dtype", () => withHeader((h) => (h.threshold.dtype = "BF16")), /tensor threshold: unsupported dtype "BF16"/],
  ["a wrong shape", () => withHeader((h) => (h.leaf_alpha.shape = [h.leaf_alpha.shape[0] * 5, 1])), /tensor leaf_alpha: expected shape \[15927,5\]/],
  ["a missing tensor", () => withHeader((h) => delete h.subforest_offsets), /tensor subforest_offsets: missing|data/],
  ["another format", () => withHeader((h) => (h.__metadata__.format = "econml-causal-forest/2")), /metadata format: expected "econml-causal-forest\/1"/],
  ["inconsistent counts", () => withHeader((h) => (h.__metadata__.n_relevant_outputs = "3")), /metadata n_relevant_outputs: expected 4/],
  ["treatments without the control first", () => withHeader((h) => (h.__metadata__.treatments = JSON.stringify(["email_nudge", "none", "discount_199", "retention_call", "free_upgrade"]))), /metadata treatments: expected the control "none" first/],
];

describe("malformed causal-forest files", () => {
  it("the fixture loads", () => {
    const f = read(good);
    expect([f.nTrees, f.nOutputs, f.treatmentColumns.length, f.subforestOffsets.length - 1]).toEqual([100, 5, 4, 25]);
  });

  for (const [what, make, message] of cases) {
    it(`refuses ${what}`, () => {
      const bytes = make();
      expect(() => read(bytes)).toThrow(ModelFormatError);
      expect(() => read(bytes)).toThrow(message);
    });
  }

  it("refuses a child index out of range", () => {
    const left = header.children_left.data_offsets[0];
    const body = data.slice();
    new DataView(body.buffer).setInt32(left, 99999, true);
    expect(() => read(withHeader(() => {}, body))).toThrow(/tensor children_left: node 0 \(tree 0\) has child 99999/);
  });

  it("any corruption or truncation loads or throws ModelFormatError (property)", () => {
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 }), fc.boolean(), (at, byte, truncate) => {
        const bytes = truncate ? good.subarray(0, at) : good.slice();
        if (!truncate) bytes[at] = byte;
        try {
          read(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(ModelFormatError);
        }
      }),
      { numRuns: 200 },
    );
  });
});
