// The bundle loads as a whole or not at all: each kind of broken file is refused naming the file
// and the problem; a reload swaps bundles, and a bad one leaves the old one serving.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadBundle } from "../server/bundle/load.ts";
import { Recommender } from "../server/service/recommender.ts";
import { sharedCore } from "./helpers/evaluators.ts";

const dirs: string[] = [];
function copyBundle(): string {
  const dir = mkdtempSync(join(tmpdir(), "bundle-"));
  cpSync("models", dir, { recursive: true });
  dirs.push(dir);
  return dir;
}
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function edit(dir: string, file: string, change: (v: any) => void) {
  const v = JSON.parse(readFileSync(join(dir, file), "utf8"));
  change(v);
  writeFileSync(join(dir, file), JSON.stringify(v));
}

const broken: [string, (dir: string) => void, RegExp][] = [
  ["a missing file", (d) => rmSync(join(d, "scaler.json")), /^scaler\.json: cannot read: ENOENT/],
  ["bad JSON", (d) => writeFileSync(join(d, "interventions.json"), "{"), /^interventions\.json: not valid JSON/],
  ["a scaler of the wrong length", (d) => edit(d, "scaler.json", (s) => s.mean.pop()), /^scaler\.json: expected 21 mean and scale values/],
  ["a column the model lacks", (d) => edit(d, "feature_columns.json", (c) => (c[3] = "paperless")), /feature/],
  ["an unknown treatment", (d) => edit(d, "interventions.json", (i) => (i.interventions[0].name = "sms")), /^interventions\.json: sms not among the causal forest's treatments/],
  ["a rule on an unknown field", (d) => edit(d, "interventions.json", (i) => (i.interventions[1].rules[0].field = "plan")), /^interventions\.json: discount_199: rule on "plan": unknown field/],
  ["a rule value outside the category", (d) => edit(d, "interventions.json", (i) => (i.interventions[1].rules[0].value = "Three year")), /not among Month-to-month/],
  ["a manifest field typo", (d) => edit(d, "manifest.json", (m) => (m.fields.tenure.type = "int")), /^manifest\.json: fields\.tenure/],
  ["a truncated model", (d) => writeFileSync(join(d, "churn_model.txt"), readFileSync(join(d, "churn_model.txt"), "utf8").slice(0, 50_000)), /^churn_model\.txt: line \d+/],
  ["a corrupt forest", (d) => writeFileSync(join(d, "causal_forest.safetensors"), Buffer.from("garbage!")), /^causal_forest\.safetensors: header/],
  [
    "a pipeline whose column order differs from the model's",
    (d) => {
      edit(d, "feature_columns.json", (c) => c.reverse());
      edit(d, "scaler.json", (s) => [s.columns, s.mean, s.scale].forEach((a) => a.reverse()));
    },
    /^churn_model\.txt: feature_names differ from feature_columns\.json at column 0/,
  ],
];

describe("bundle validation", () => {
  it("the default bundle loads", async () => {
    const b = await loadBundle("models", await sharedCore());
    expect(b.version).toBe("churn-default@2026.11.0");
    expect(b.interventions.map((i) => i.name)).toEqual(["email_nudge", "discount_199", "retention_call", "free_upgrade"]);
    b.dispose();
  });

  for (const [what, breakIt, message] of broken) {
    it(`refuses ${what}`, async () => {
      const dir = copyBundle();
      breakIt(dir);
      await expect(loadBundle(dir, await sharedCore())).rejects.toThrow(message);
    });
  }
});

describe("reload", () => {
  it("swaps to a new bundle and keeps the old one when the new one is bad", async () => {
    const dir = copyBundle();
    const service = await Recommender.open({ modelsDir: dir, core: await sharedCore() });
    const req = { customer_id: "r1", tenure: 5, monthly_charges: 80, contract_type: "Month-to-month" };
    const before = await service.predict(req);
    edit(dir, "manifest.json", (m) => (m.version = "2026.12.0"));
    expect(await service.reload()).toEqual({ version: "churn-default@2026.12.0" });
    expect((await service.predict(req)).model_version).toBe("churn-default@2026.12.0");
    writeFileSync(join(dir, "scaler.json"), "not json");
    await expect(service.reload()).rejects.toThrow(/scaler\.json/);
    const after = await service.predict({ ...req, customer_id: "r2" });
    expect(after.model_version).toBe("churn-default@2026.12.0");
    expect(after.churn_probability).toBe(before.churn_probability);
    service.close();
  });

  it("drops no request while reloading under load", async () => {
    const dir = copyBundle();
    const service = await Recommender.open({ modelsDir: dir, core: await sharedCore() });
    const calls = Array.from({ length: 200 }, (_, i) => service.predict({ customer_id: `load-${i}`, tenure: i % 70 }));
    const reloads = [service.reload(), service.reload()];
    const results = await Promise.all(calls);
    await Promise.all(reloads);
    expect(results.every((r) => r.churn_probability > 0 && r.churn_probability < 1)).toBe(true);
    service.close();
  });
});
