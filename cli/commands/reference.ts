// `churn reference`: writes a bundle's reference.json from a training CSV.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadBundle } from "../../server/bundle/load.ts";
import { buildReference } from "../../server/bundle/reference.ts";
import { WasmCore } from "../../server/wasm/core.ts";
import { args, readCsv, required, UsageError } from "./common.ts";

const USAGE = `churn reference --models DIR --train TRAIN.csv [--sample 2000] [--output FILE]
  Samples the training customers' raw fields and predicted effects into DIR/reference.json
  (or FILE): the distributions the drift monitors compare live traffic with.`;

export async function reference(argv: string[]): Promise<void> {
  const a = args(argv, { models: { type: "string" }, train: { type: "string" }, sample: { type: "string" }, output: { type: "string" } }, USAGE);
  const dir = required(a.models, "--models", USAGE);
  const sample = Number(a.sample ?? "2000");
  if (!Number.isInteger(sample) || sample < 10) throw new UsageError(`--sample must be an integer >= 10\n\n${USAGE}`);
  const bundle = await loadBundle(dir, await WasmCore.load(), true);
  const ref = buildReference(bundle, readCsv(required(a.train, "--train", USAGE)), sample);
  const out = a.output ?? join(dir, bundle.manifest.files.reference);
  writeFileSync(out, JSON.stringify(ref) + "\n");
  console.error(`wrote ${out}: ${ref.rows} customers`);
}
