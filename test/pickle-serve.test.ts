// The original design's models/ folder served as it is (DESIGN section 12): `churn import-pickles`
// writes a bundle whose models reproduce the libraries' own answers through the CLI, and a server
// started on the folder of pickles answers as one started on the imported bundle, its churn model
// fed the raw columns it was trained on.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../server/config.ts";
import { startServer } from "../server/http/server.ts";
import { fixturePath } from "./helpers/fixtures.ts";
import { post, SEED_REQUEST, testServer } from "./helpers/server.ts";
import { FIELDS } from "./helpers/customers.ts";
import { recordFields } from "../server/features/csv.ts";

const pickles = fixturePath("pickles");
const dir = mkdtempSync(join(tmpdir(), "pickle-serve-"));
const bundle = join(dir, "bundle");
const churn = (...args: string[]) => spawnSync(process.execPath, ["dist/cli/main.js", ...args], { encoding: "utf8", timeout: 120_000 });
const csv = (path: string) => parse(readFileSync(path, "utf8"), { columns: true }) as Record<string, string>[];

beforeAll(() => {
  const r = churn("import-pickles", "--from", pickles, "--out", bundle, "--churn-input", "raw");
  expect(r.status, r.stderr).toBe(0);
}, 120_000);

describe("churn import-pickles", () => {
  it("writes a churn model that churn score runs to LightGBM's own answers (1e-12)", () => {
    const want = csv(join(pickles, "expected_churn.csv"));
    for (const [kind, column] of [["prob", "prob"], ["raw", "raw"]] as const) {
      const out = join(dir, `${kind}.txt`);
      const r = churn("score", "--model", join(bundle, "churn_model.txt"), "--input", join(pickles, "test_features.csv"), "--kind", kind, "--output", out);
      expect(r.status, r.stderr).toBe(0);
      const got = readFileSync(out, "utf8").trim().split("\n").map(Number);
      expect(got).toHaveLength(want.length);
      got.forEach((v, i) => expect(Math.abs(v - Number(want[i][column]))).toBeLessThanOrEqual(1e-12));
    }
  });

  it("writes a forest that churn effects runs to EconML's own answers (1e-12 + 1e-9|want|)", () => {
    const out = join(dir, "effects.csv");
    const r = churn("effects", "--model", join(bundle, "causal_forest.safetensors"), "--input", join(pickles, "test_X_scaled.csv"), "--output", out);
    expect(r.status, r.stderr).toBe(0);
    const got = csv(out);
    const want = csv(join(pickles, "expected_effects.csv"));
    expect(got).toHaveLength(want.length);
    // Each arm vs the control at alpha 0.05 (the fixture also holds arm-vs-arm and alpha 0.10 columns).
    const columns = Object.keys(got[0]);
    expect(columns).toHaveLength(16);
    expect(Object.keys(want[0])).toEqual(expect.arrayContaining(columns));
    got.forEach((row, i) => {
      for (const c of columns) expect(Math.abs(Number(row[c]) - Number(want[i][c]))).toBeLessThanOrEqual(1e-12 + 1e-9 * Math.abs(Number(want[i][c])));
    });
  });

  it("says what is missing", () => {
    const r = churn("import-pickles", "--from", pickles, "--out", join(dir, "x"));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/missing --churn-input/);
  });
});

describe("MODELS_DIR holding the four pickles", () => {
  it("serves them directly, as the imported bundle, the churn model fed raw columns", async () => {
    const direct = await testServer(["--models", pickles, "--churn-input", "raw"]);
    const imported = await testServer(["--models", bundle]);
    try {
      const a = await post(`${direct.url}/predict`, { ...SEED_REQUEST, options: { dry_run: true } });
      const b = await post(`${imported.url}/predict`, { ...SEED_REQUEST, options: { dry_run: true } });
      expect(a.status).toBe(200);
      expect({ ...a.body, prediction_id: 0, latency_ms: 0 }).toEqual({ ...b.body, prediction_id: 0, latency_ms: 0 });
      // The test customers with their raw fields (missing ones left missing): LightGBM's probabilities.
      const customers = csv(fixturePath("dataset_test.csv")).slice(0, 200).map((r) => ({ customer_id: r.customer_id, ...recordFields(r, FIELDS) }));
      const { body } = await post(`${direct.url}/batch-predict`, { customers, options: { dry_run: true } });
      const want = csv(join(pickles, "expected_churn.csv"));
      body.results.forEach((r: { churn_probability: number }, i: number) => expect(Math.abs(r.churn_probability - Number(want[i].prob))).toBeLessThanOrEqual(1e-12));
    } finally {
      await direct.close();
      await imported.close();
    }
  });

  it("refuses to guess what the churn model was trained on", async () => {
    const config = loadConfig(["--port", "0", "--models", pickles, "--data-dir", mkdtempSync(join(tmpdir(), "pickle-serve-data-"))], {});
    await expect(startServer(config)).rejects.toThrow(/CHURN_INPUT/);
  });
});
