// readPickleFolder and importPickles on the fixture pickles: the plain and the joblib variants give
// the same bundle contents, and the written bundle's JSON files match the bundle schemas, with
// manifest, interventions, imputation values and reference adapted from the --like bundle.
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bundledModels } from "../server/config.ts";
import { FeatureColumns, Interventions, Manifest, Scaler } from "../server/contract/bundle.ts";
import { PickleError } from "../server/pickle/errors.ts";
import { importPickles, isPickleFolder, pickleBundle, readPickleFolder } from "../server/pickle/import.ts";
import { fixturePath, readText } from "./helpers/fixtures.ts";

const tmp = mkdtempSync(join(tmpdir(), "pickle-import-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A folder holding the four design file names as links to the given fixture files. */
function folder(name: string, files: Record<string, string>): string {
  const dir = join(tmp, name);
  cpSync(fixturePath("pickles", "feature_columns.pkl"), join(dir, "feature_columns.pkl"));
  for (const [as, file] of Object.entries(files)) symlinkSync(fixturePath("pickles", file), join(dir, as));
  return dir;
}

const forestFixture = new Uint8Array(readFileSync(fixturePath("causal_forest", "causal_forest.safetensors")));
const modelsScaler = JSON.parse(readFileSync("models/scaler.json", "utf8"));

describe("readPickleFolder", () => {
  it("reads the fixture folder into the bundle files' contents", async () => {
    const m = await readPickleFolder(fixturePath("pickles"), { impute: modelsScaler.impute, churnInput: "raw" });
    expect(m.churnModelText === readText("pickles", "model_from_pickle.txt")).toBe(true);
    expect(Buffer.compare(Buffer.from(m.forestSafetensors), Buffer.from(forestFixture))).toBe(0);
    expect(m.featureColumns).toEqual(modelsScaler.columns);
    expect(m.scaler).toEqual({ columns: modelsScaler.columns, impute: modelsScaler.impute, mean: modelsScaler.mean, scale: modelsScaler.scale });
    expect(m.treatments).toEqual(["none", "email_nudge", "discount_199", "retention_call", "free_upgrade"]);
    expect(m.control).toBe("none");
    expect(m.churnInput).toBe("raw");
    expect(Scaler.safeParse(m.scaler).success).toBe(true);
  });

  it("reads joblib and zlib-compressed files under the design's names, detected by content", async () => {
    const plain = await readPickleFolder(fixturePath("pickles"));
    const dir = folder("joblib", { "churn_model.pkl": "churn_model.joblib.pkl", "causal_forest.pkl": "causal_forest.joblib-z3.pkl", "scaler.pkl": "scaler.pkl" });
    const { forestSafetensors, ...joblib } = await readPickleFolder(dir);
    const { forestSafetensors: plainForest, ...rest } = plain;
    expect(joblib).toEqual(rest);
    expect(Buffer.compare(Buffer.from(forestSafetensors), Buffer.from(plainForest))).toBe(0);
    expect(plain.scaler.impute).toEqual({});
    expect(plain.churnInput).toBeUndefined();
  });

  it("names a missing file", async () => {
    const dir = folder("missing", { "churn_model.pkl": "churn_model.pkl", "scaler.pkl": "scaler.pkl" });
    await expect(readPickleFolder(dir)).rejects.toThrow(PickleError);
    await expect(readPickleFolder(dir)).rejects.toThrow(/^causal_forest\.pkl: file: cannot read: ENOENT/);
  });

  it("refuses a file of the wrong kind, naming it", async () => {
    const dir = folder("swapped", { "churn_model.pkl": "scaler.pkl", "scaler.pkl": "scaler.pkl", "causal_forest.pkl": "causal_forest.pkl" });
    await expect(readPickleFolder(dir)).rejects.toThrow(/^churn_model\.pkl: model: expected a lightgbm\.sklearn\.LGBMClassifier or lightgbm\.basic\.Booster object, found a sklearn\.preprocessing\._data\.StandardScaler object/);
  });
});

describe("a MODELS_DIR of pickles", () => {
  it("isPickleFolder tells a pickle folder from a bundle", async () => {
    expect(await isPickleFolder(fixturePath("pickles"))).toBe(true);
    expect(await isPickleFolder("models")).toBe(false);
    expect(await isPickleFolder(join(tmp, "does-not-exist"))).toBe(false);
  });

  it("pickleBundle gives every bundle file in memory", async () => {
    const b = await pickleBundle({ from: fixturePath("pickles"), churnInput: "raw", like: bundledModels() });
    expect(Object.keys(b.files).sort()).toEqual(["causal_forest.safetensors", "churn_model.txt", "feature_columns.json", "interventions.json", "manifest.json", "reference.json", "scaler.json"]);
    expect(Manifest.parse(JSON.parse(b.files["manifest.json"] as string)).churn_input).toBe("raw");
    expect(b.files["causal_forest.safetensors"]).toBe(b.models.forestSafetensors);
    expect(b.referenceCopiedFrom).toBe(join(bundledModels(), "reference.json"));
  });
});

describe("importPickles", () => {
  it("writes a complete bundle adapted from --like", async () => {
    const out = join(tmp, "bundle");
    const result = await importPickles({ from: fixturePath("pickles"), out, churnInput: "raw", like: "models", train: "train.csv" });
    expect(result.files.sort()).toEqual(["causal_forest.safetensors", "churn_model.txt", "feature_columns.json", "interventions.json", "manifest.json", "reference.json", "scaler.json"]);
    expect(result.rebuildReferenceFrom).toBe("train.csv");
    expect(result.referenceCopiedFrom).toBe(join("models", "reference.json"));
    expect(result.droppedInterventions).toEqual([]);

    const json = (file: string) => JSON.parse(readFileSync(join(out, file), "utf8"));
    const manifest = json("manifest.json");
    const like = JSON.parse(readFileSync("models/manifest.json", "utf8"));
    expect(manifest.churn_input).toBe("raw");
    expect({ ...manifest, churn_input: undefined }).toEqual({ ...like, churn_input: undefined });
    expect(Manifest.safeParse(manifest).success).toBe(true);
    expect(FeatureColumns.safeParse(json("feature_columns.json")).success).toBe(true);
    expect(Scaler.parse(json("scaler.json"))).toEqual(modelsScaler);
    expect(Interventions.parse(json("interventions.json"))).toEqual(Interventions.parse(JSON.parse(readFileSync("models/interventions.json", "utf8"))));
    expect(readFileSync(join(out, "reference.json")).equals(readFileSync("models/reference.json"))).toBe(true);
    expect(readFileSync(join(out, "churn_model.txt"), "utf8") === readText("pickles", "model_from_pickle.txt")).toBe(true);
    expect(Buffer.compare(readFileSync(join(out, "causal_forest.safetensors")), Buffer.from(forestFixture))).toBe(0);
  });

  it("drops --like's interventions that the imported forest has no arm for, and says so", async () => {
    const like = join(tmp, "like");
    cpSync("models", like, { recursive: true });
    const interventions = JSON.parse(readFileSync(join(like, "interventions.json"), "utf8"));
    interventions.interventions.push({ ...interventions.interventions[0], name: "gift_card" });
    writeFileSync(join(like, "interventions.json"), JSON.stringify(interventions));
    const out = join(tmp, "bundle-scaled");
    const result = await importPickles({ from: fixturePath("pickles"), out, churnInput: "scaled", like });
    expect(result.droppedInterventions).toEqual(["gift_card"]);
    expect(result.rebuildReferenceFrom).toBeUndefined();
    const written = JSON.parse(readFileSync(join(out, "interventions.json"), "utf8"));
    expect(written.interventions.map((i: { name: string }) => i.name)).toEqual(["email_nudge", "discount_199", "retention_call", "free_upgrade"]);
    expect(JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")).churn_input).toBe("scaled");
  });
});
