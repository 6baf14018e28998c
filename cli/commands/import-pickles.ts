// `churn import-pickles`: the original design's four pickles (churn_model.pkl, causal_forest.pkl,
// scaler.pkl, feature_columns.pkl) -> a complete bundle folder, read by a pickle reader that
// executes nothing, and validated as any bundle is.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadBundle } from "../../server/bundle/load.ts";
import { bundledModels } from "../../server/config.ts";
import { buildReference } from "../../server/bundle/reference.ts";
import { importPickles } from "../../server/pickle/import.ts";
import { WasmCore } from "../../server/wasm/core.ts";
import { args, readCsv, required, UsageError } from "./common.ts";

const USAGE = `churn import-pickles --from DIR --out BUNDLE_DIR --churn-input raw|scaled [--like BUNDLE] [--train TRAIN.csv]
  Reads DIR's churn_model.pkl (an LGBMClassifier or a Booster), causal_forest.pkl (CausalForestDML),
  scaler.pkl (StandardScaler) and feature_columns.pkl, written by pickle or joblib (compressed or
  not), and writes a bundle to BUNDLE_DIR. --churn-input: was the churn model trained on the raw
  columns or on the scaled ones (the pickle does not record it). The manifest, interventions,
  imputation values and reference.json come from --like (default: the bundled models); with
  --train, reference.json is built from that training CSV instead.`;

export async function importPicklesCommand(argv: string[]): Promise<void> {
  const a = args(argv, { from: { type: "string" }, out: { type: "string" }, "churn-input": { type: "string" }, like: { type: "string" }, train: { type: "string" } }, USAGE);
  const from = required(a.from, "--from", USAGE);
  const out = required(a.out, "--out", USAGE);
  const churnInput = required(a["churn-input"], "--churn-input", USAGE);
  if (churnInput !== "raw" && churnInput !== "scaled") throw new UsageError(`--churn-input must be raw or scaled, got ${JSON.stringify(churnInput)}\n\n${USAGE}`);
  const result = await importPickles({ from, out, churnInput, like: a.like ?? bundledModels(), train: a.train });
  // Validated as any bundle is: a bundle that would not load is not left looking like one.
  const bundle = await loadBundle(out, await WasmCore.load(), result.rebuildReferenceFrom !== undefined);
  if (result.rebuildReferenceFrom) {
    const ref = buildReference(bundle, readCsv(result.rebuildReferenceFrom));
    writeFileSync(join(out, bundle.manifest.files.reference), JSON.stringify(ref) + "\n");
    await loadBundle(out, await WasmCore.load());
  }
  bundle.dispose();
  if (result.droppedInterventions.length) console.error(`left out interventions the forest has no arm for: ${result.droppedInterventions.join(", ")}`);
  console.error(`wrote bundle ${out} (${result.files.join(", ")}); reference.json ${result.rebuildReferenceFrom ? `built from ${result.rebuildReferenceFrom}` : `copied from ${result.referenceCopiedFrom}`}`);
}
