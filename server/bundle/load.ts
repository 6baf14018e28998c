// A model bundle loaded and validated as a whole: each file parses, and the files agree with one
// another (columns, scaler lengths, treatments, categories). Any problem refuses the whole
// bundle with one message naming the file and the problem.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { z } from "zod";
import { readCausalForest } from "../model/causal/load.ts";
import { ModelFormatError } from "../model/errors.ts";
import { parseLightGBM } from "../model/lightgbm/parse.ts";
import { WasmCore } from "../wasm/core.ts";
import { WasmForest } from "../wasm/forest.ts";
import { WasmGbdt } from "../wasm/gbdt.ts";
import { Pipeline } from "../features/pipeline.ts";
import { FeatureColumns, Interventions, Manifest, Reference, Scaler, type Intervention } from "../contract/bundle.ts";

export class BundleError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = "BundleError";
  }
}

export interface Bundle {
  dir: string;
  manifest: Manifest;
  version: string;
  loadedAt: Date;
  pipeline: Pipeline;
  interventions: Intervention[];
  reference: Reference;
  churn: WasmGbdt;
  forest: WasmForest;
  dispose(): void;
}

/** Where a bundle's files come from: a folder, or files made in memory (a folder of the original design's pickles). */
export interface BundleSource {
  dir: string;
  read(file: string): Promise<Uint8Array>;
}

export function folderSource(dir: string): BundleSource {
  return {
    dir,
    async read(file) {
      try {
        return new Uint8Array(await readFile(join(dir, file)));
      } catch (err) {
        throw new BundleError(file, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    },
  };
}

export function memorySource(dir: string, files: Record<string, string | Uint8Array>): BundleSource {
  return {
    dir,
    async read(file) {
      const content = Object.hasOwn(files, file) ? files[file] : undefined;
      if (content === undefined) throw new BundleError(file, "not among the files made from the pickles");
      return typeof content === "string" ? new TextEncoder().encode(content) : content;
    },
  };
}

async function readJson<T>(source: BundleSource, file: string, schema: z.ZodType<T>): Promise<T> {
  const text = new TextDecoder().decode(await source.read(file));
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new BundleError(file, `not valid JSON: ${(err as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(top level)"}: ${i.message}`);
    throw new BundleError(file, issues.join("; "));
  }
  return parsed.data;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Loads every file of the bundle in `from` (a folder, or a source) and builds its WASM evaluators
 * in `core`. `withoutReference` skips reference.json: the command that writes it needs the rest first.
 */
export async function loadBundle(from: string | BundleSource, core: WasmCore, withoutReference = false): Promise<Bundle> {
  const source = typeof from === "string" ? folderSource(from) : from;
  const dir = source.dir;
  const manifest = await readJson(source, "manifest.json", Manifest);
  const files = manifest.files;
  const columns = await readJson(source, files.feature_columns, FeatureColumns);
  const scaler = await readJson(source, files.scaler, Scaler);
  const { interventions } = await readJson(source, files.interventions, Interventions);
  const reference = withoutReference
    ? { rows: 1, numeric: {}, categories: {}, effects: {} }
    : await readJson(source, files.reference, Reference);

  if (!sameList(scaler.columns, columns)) throw new BundleError(files.scaler, `columns differ from ${files.feature_columns}`);
  if (scaler.mean.length !== columns.length || scaler.scale.length !== columns.length) {
    throw new BundleError(files.scaler, `expected ${columns.length} mean and scale values (one per column of ${files.feature_columns}), got ${scaler.mean.length} and ${scaler.scale.length}`);
  }
  let pipeline: Pipeline;
  try {
    pipeline = new Pipeline(manifest.fields, columns, scaler);
  } catch (err) {
    throw new BundleError("manifest.json", (err as Error).message);
  }

  let model;
  let forest;
  try {
    model = parseLightGBM(new TextDecoder().decode(await source.read(files.churn_model)), files.churn_model);
    forest = readCausalForest(await source.read(files.causal_forest), files.causal_forest);
  } catch (err) {
    if (err instanceof ModelFormatError) throw new BundleError(err.file, `${err.where}: ${err.problem}`);
    throw err;
  }
  // LightGBM writes feature names with spaces replaced by "_".
  const lgbColumns = columns.map((c) => c.replaceAll(" ", "_"));
  if (!sameList(model.featureNames, lgbColumns)) {
    const i = model.featureNames.findIndex((n, k) => n !== lgbColumns[k]);
    throw new BundleError(files.churn_model, `feature_names differ from ${files.feature_columns} at column ${i}: model has ${JSON.stringify(model.featureNames[i])}, pipeline ${JSON.stringify(lgbColumns[i])} (${model.featureNames.length} vs ${columns.length} columns)`);
  }
  if (model.numClass !== 1 || model.transform.kind !== "sigmoid") {
    throw new BundleError(files.churn_model, `expected a binary classifier (objective binary), got objective "${model.objective}"`);
  }
  if (!sameList(forest.featureColumns, columns)) {
    throw new BundleError(files.causal_forest, `feature_columns differ from ${files.feature_columns}`);
  }
  const names = interventions.map((i) => i.name);
  if (new Set(names).size !== names.length) throw new BundleError(files.interventions, "intervention names repeat");
  const missing = names.filter((n) => !forest.treatmentColumns.includes(n));
  if (missing.length) {
    throw new BundleError(files.interventions, `${missing.join(", ")} not among the causal forest's treatments (${forest.treatmentColumns.join(", ")})`);
  }
  for (const iv of interventions) {
    for (const rule of iv.rules) {
      const problem = pipeline.checkRule(rule);
      if (problem) throw new BundleError(files.interventions, `${iv.name}: rule on "${rule.field}": ${problem}`);
    }
  }
  const valueField = manifest.decision.value_field;
  if (!pipeline.numericFields.includes(valueField)) {
    throw new BundleError("manifest.json", `decision.value_field "${valueField}" is not a numeric field (${pipeline.numericFields.join(", ")})`);
  }
  for (const field of Object.keys(reference.numeric)) {
    if (!pipeline.numericFields.includes(field)) throw new BundleError(files.reference, `numeric sample for "${field}", which is not a numeric field of the manifest`);
  }
  for (const field of Object.keys(reference.categories)) {
    if (!pipeline.categoryFields.includes(field)) throw new BundleError(files.reference, `category counts for "${field}", which is not a category field of the manifest`);
  }
  for (const arm of Object.keys(reference.effects)) {
    if (!names.includes(arm)) throw new BundleError(files.reference, `effect sample for "${arm}", which is not an intervention`);
  }

  const churn = WasmGbdt.create(core, model);
  const effects = WasmForest.create(core, forest);
  return {
    dir,
    manifest,
    version: `${manifest.name}@${manifest.version}`,
    loadedAt: new Date(),
    pipeline,
    interventions,
    reference,
    churn,
    forest: effects,
    dispose() {
      churn.dispose();
      effects.dispose();
    },
  };
}
