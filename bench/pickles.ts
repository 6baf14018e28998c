// Reading the original design's pickle folder (readPickleFolder: parse, extract, convert the forest
// to safetensors) on the shared fixtures, as pickle.dump wrote them and as joblib.dump with zlib
// (compress=3) wrote them. Best of 5 after a warm-up, in this process.
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readPickleFolder, PICKLE_FILES } from "../server/pickle/import.ts";
import { fixturePath } from "../test/helpers/fixtures.ts";
import { printTable, type BenchRow } from "./table.ts";

const VARIANTS: Record<string, Record<string, string>> = {
  "pickle.dump (protocol 4)": {},
  "joblib.dump compress=3 (zlib)": { [PICKLE_FILES.churnModel]: "churn_model.joblib.pkl", [PICKLE_FILES.causalForest]: "causal_forest.joblib-z3.pkl" },
};

async function bestOf(times: number, fn: () => Promise<unknown>): Promise<{ best: number; median: number }> {
  await fn();
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { best: ms[0], median: ms[Math.floor(ms.length / 2)] };
}

/** Times readPickleFolder on each variant of the fixture folder; one row per variant. */
export async function benchPickles(): Promise<BenchRow[]> {
  const tmp = mkdtempSync(join(tmpdir(), "bench-pickles-"));
  try {
    const rows: BenchRow[] = [];
    for (const [variant, replace] of Object.entries(VARIANTS)) {
      // The design's four names, each a link to the fixture file of this variant.
      const folder = join(tmp, String(rows.length));
      mkdirSync(folder);
      let bytes = 0;
      for (const name of Object.values(PICKLE_FILES)) {
        const source = fixturePath("pickles", replace[name] ?? name);
        symlinkSync(source, join(folder, name));
        bytes += statSync(source).size;
      }
      const { best, median } = await bestOf(5, () => readPickleFolder(folder));
      rows.push({ variant, "input MB": Number((bytes / 1e6).toFixed(1)), "best ms": Number(best.toFixed(1)), "median ms": Number(median.toFixed(1)), "MB/s": Math.round(bytes / 1e3 / best) });
    }
    return rows;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export default async function run(): Promise<void> {
  printTable("Pickle folder import (readPickleFolder: read, extract, forest to safetensors)", await benchPickles());
}
