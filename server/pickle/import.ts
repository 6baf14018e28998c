// The original design's four pickles (DESIGN section 12) as the contents of a model bundle:
// readPickleFolder gives them in memory (for a MODELS_DIR that holds pickles), importPickles
// writes a complete bundle folder (for `churn import-pickles`). Each file may come from
// pickle.dump or joblib.dump, compressed or not: the reader tells them apart by their content.
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PickleError } from "./errors.ts";
import { forestFromPickle } from "./forest.ts";
import { lightgbmFromPickle } from "./lightgbm.ts";
import { readPickle, type ReadLimits } from "./reader.ts";
import { featureColumnsFromPickle, scalerFromPickle } from "./sklearn.ts";

export const PICKLE_FILES = {
  churnModel: "churn_model.pkl",
  causalForest: "causal_forest.pkl",
  scaler: "scaler.pkl",
  featureColumns: "feature_columns.pkl",
} as const;

export type ChurnInput = "raw" | "scaled";

/** scaler.json of a bundle. */
export interface ScalerJson {
  columns: string[];
  impute: Record<string, number>;
  mean: number[];
  scale: number[];
}

/** The bundle files' contents recovered from a pickle folder. */
export interface PickleModels {
  churnModelText: string;
  forestSafetensors: Uint8Array;
  featureColumns: string[];
  scaler: ScalerJson;
  /** All arms, the control first. */
  treatments: string[];
  control: string;
  /** As the caller stated it: the pickles do not record which input the churn model was trained on. */
  churnInput?: ChurnInput;
}

export interface ReadFolderOptions {
  /**
   * Imputation values by column. A StandardScaler holds no medians, so they come from elsewhere
   * (importPickles takes the --like bundle's); columns without one are left out of `impute`.
   */
  impute?: Record<string, number>;
  churnInput?: ChurnInput;
  /** Outcome name for the forest's metadata when EconML did not record one. */
  outcome?: string;
  limits?: Partial<ReadLimits>;
}

async function readBytes(dir: string, file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(join(dir, file)));
  } catch (err) {
    throw new PickleError(file, "file", `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Reads `churn_model.pkl`, `causal_forest.pkl`, `scaler.pkl` and `feature_columns.pkl` from `dir`. */
export async function readPickleFolder(dir: string, options: ReadFolderOptions = {}): Promise<PickleModels> {
  const F = PICKLE_FILES;
  const [columnsBytes, scalerBytes, churnBytes, forestBytes] = await Promise.all([F.featureColumns, F.scaler, F.churnModel, F.causalForest].map((f) => readBytes(dir, f)));
  const read = (bytes: Uint8Array, file: string) => readPickle(bytes, file, options.limits);
  const columns = featureColumnsFromPickle(read(columnsBytes, F.featureColumns), F.featureColumns);
  const scaler = scalerFromPickle(read(scalerBytes, F.scaler), F.scaler, columns.length);
  if (scaler.featureNames && JSON.stringify(scaler.featureNames) !== JSON.stringify(columns)) {
    throw new PickleError(F.scaler, "feature_names_in_", `the scaler was fitted on columns ${JSON.stringify(scaler.featureNames)}, ${F.featureColumns} lists ${JSON.stringify(columns)}`);
  }
  const churn = lightgbmFromPickle(read(churnBytes, F.churnModel), F.churnModel);
  const forest = forestFromPickle(read(forestBytes, F.causalForest), F.causalForest, { featureColumns: columns, outcome: options.outcome });
  const impute: Record<string, number> = {};
  for (const c of columns) if (options.impute?.[c] !== undefined) impute[c] = options.impute[c];
  return {
    churnModelText: churn.text,
    forestSafetensors: forest.safetensors,
    featureColumns: columns,
    scaler: { columns, impute, mean: scaler.mean, scale: scaler.scale },
    treatments: forest.treatments,
    control: forest.control,
    ...(options.churnInput ? { churnInput: options.churnInput } : {}),
  };
}

export interface BundleOptions {
  /** Folder with the four pickles. */
  from: string;
  /** Which input the churn model was trained on; recorded as manifest.json `churn_input`. */
  churnInput: ChurnInput;
  /** Bundle whose manifest, interventions, imputation values and reference are adapted (the CLI's default: the bundled `models/`). */
  like: string;
  /** Outcome name for the forest's metadata when EconML did not record one. */
  outcome?: string;
}

/** A complete bundle in memory: what importPickles writes, for a MODELS_DIR of pickles. */
export interface PickleBundle {
  /** File name in the bundle folder -> content; manifest.json included. */
  files: Record<string, string | Uint8Array>;
  models: PickleModels;
  /** reference.json is --like's copy: its samples and effects describe --like's models. */
  referenceCopiedFrom: string;
  /** Interventions of --like left out because the imported forest has no such arm. */
  droppedInterventions: string[];
}

export interface ImportOptions extends BundleOptions {
  /** Bundle folder to write (created if missing). */
  out: string;
  /** Training CSV from which the caller will build reference.json (importPickles only copies --like's). */
  train?: string;
}

export interface ImportResult extends Omit<PickleBundle, "files"> {
  out: string;
  files: string[];
  /** Set when `train` was given: the caller rebuilds reference.json from this CSV. */
  rebuildReferenceFrom?: string;
}

const BUNDLE_FILES = {
  churn_model: "churn_model.txt",
  causal_forest: "causal_forest.safetensors",
  feature_columns: "feature_columns.json",
  scaler: "scaler.json",
  interventions: "interventions.json",
  reference: "reference.json",
};

async function readJson(dir: string, file: string): Promise<Record<string, unknown>> {
  const path = join(dir, file);
  try {
    const v = JSON.parse(await readFile(path, "utf8"));
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("expected a JSON object");
    return v;
  } catch (err) {
    throw new Error(`${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Whether `dir` holds the original design's four pickles (rather than, or besides, a bundle). */
export async function isPickleFolder(dir: string): Promise<boolean> {
  const present = await Promise.all(Object.values(PICKLE_FILES).map((f) => stat(join(dir, f)).then((s) => s.isFile(), () => false)));
  return present.every(Boolean);
}

/** The bundle files made from the pickles in `from`, the rest adapted from `like`. */
export async function pickleBundle(options: BundleOptions): Promise<PickleBundle> {
  const like = options.like;
  const likeManifest = await readJson(like, "manifest.json");
  const likeFiles = { ...BUNDLE_FILES, ...(likeManifest.files as Record<string, string> | undefined) };
  const likeScaler = await readJson(like, likeFiles.scaler);
  const likeInterventions = await readJson(like, likeFiles.interventions);
  const referencePath = join(like, likeFiles.reference);
  let reference: Uint8Array;
  try {
    reference = new Uint8Array(await readFile(referencePath));
  } catch (err) {
    throw new Error(`${referencePath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const models = await readPickleFolder(options.from, {
    impute: likeScaler.impute as Record<string, number> | undefined,
    churnInput: options.churnInput,
    outcome: options.outcome,
  });

  const arms = new Set(models.treatments.slice(1));
  const all = Array.isArray(likeInterventions.interventions) ? (likeInterventions.interventions as { name: string }[]) : [];
  const json = (v: unknown, indent: number) => JSON.stringify(v, null, indent) + "\n";
  return {
    files: {
      [BUNDLE_FILES.churn_model]: models.churnModelText,
      [BUNDLE_FILES.causal_forest]: models.forestSafetensors,
      [BUNDLE_FILES.feature_columns]: json(models.featureColumns, 1),
      [BUNDLE_FILES.scaler]: json(models.scaler, 1),
      [BUNDLE_FILES.interventions]: json({ ...likeInterventions, interventions: all.filter((i) => arms.has(i.name)) }, 2),
      [BUNDLE_FILES.reference]: reference,
      "manifest.json": json({ ...likeManifest, files: BUNDLE_FILES, churn_input: options.churnInput }, 2),
    },
    models,
    referenceCopiedFrom: referencePath,
    droppedInterventions: all.filter((i) => !arms.has(i.name)).map((i) => i.name),
  };
}

/** Writes a complete bundle in `out` from the pickles in `from`, adapting the rest from `like`. */
export async function importPickles(options: ImportOptions): Promise<ImportResult> {
  const { files, ...bundle } = await pickleBundle(options);
  await mkdir(options.out, { recursive: true });
  const { "manifest.json": manifest, ...rest } = files;
  await Promise.all(Object.entries(rest).map(([name, content]) => writeFile(join(options.out, name), content)));
  // The manifest last: a folder with a manifest is a bundle, and this one is complete now.
  await writeFile(join(options.out, "manifest.json"), manifest);
  return {
    ...bundle,
    out: options.out,
    files: Object.keys(files),
    ...(options.train ? { rebuildReferenceFrom: options.train } : {}),
  };
}
