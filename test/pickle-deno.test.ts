// The pickle reader under Deno 2 (its node:zlib included): the zlib-compressed joblib forest reads
// and converts to the same bytes as under Node, and a whole bundle is made from the pickle folder.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { expect, it } from "vitest";
import { denoExecutable } from "./helpers/deno.ts";
import { fixturePath } from "./helpers/fixtures.ts";

const SCRIPT = `
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { readPickle } from "./server/pickle/reader.ts";
import { forestFromPickle } from "./server/pickle/forest.ts";
import { featureColumnsFromPickle } from "./server/pickle/sklearn.ts";
import { pickleBundle } from "./server/pickle/import.ts";
const [columnsFile, forestFile, folder] = Deno.args;
const columns = featureColumnsFromPickle(readPickle(readFileSync(columnsFile), "feature_columns.pkl"), "feature_columns.pkl");
const f = forestFromPickle(readPickle(readFileSync(forestFile), "causal_forest.pkl"), "causal_forest.pkl", { featureColumns: columns });
console.log(createHash("sha256").update(f.safetensors).digest("hex"));
console.log(Object.keys((await pickleBundle({ from: folder, churnInput: "raw", like: "models" })).files).sort().join(" "));
`;

it("reads a joblib zlib pickle and makes a bundle under Deno", () => {
  const run = spawnSync(denoExecutable(), ["eval", "--ext=ts", SCRIPT, fixturePath("pickles", "feature_columns.pkl"), fixturePath("pickles", "causal_forest.joblib-z3.pkl"), fixturePath("pickles")], {
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: "1" },
  });
  expect(run.stderr).toBe("");
  const want = createHash("sha256").update(readFileSync(fixturePath("causal_forest", "causal_forest.safetensors"))).digest("hex");
  expect(run.stdout.trim().split("\n")).toEqual([want, "causal_forest.safetensors churn_model.txt feature_columns.json interventions.json manifest.json reference.json scaler.json"]);
}, 90_000);
