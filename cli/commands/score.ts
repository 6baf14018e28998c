// `churn score`: a LightGBM model file on a numeric CSV, output shaped like LightGBM's own
// prediction files (one line per row, tab-separated values).
import { readFileSync } from "node:fs";
import { parseLightGBM } from "../../server/model/lightgbm/parse.ts";
import { WasmCore } from "../../server/wasm/core.ts";
import { WasmGbdt } from "../../server/wasm/gbdt.ts";
import { args, lineWriter, readCsv, required, UsageError } from "./common.ts";
import { cellNumber, matrixFor } from "./matrix.ts";

const USAGE = `churn score --model FILE.txt --input MATRIX.csv [--output OUT.txt] [--kind raw|prob|leaf|contrib]
  Evaluates a LightGBM text model on a CSV whose header names the model's features (in any
  order; spaces may stand for LightGBM's "_"). Empty cells and "nan" are missing values.`;

export async function score(argv: string[]): Promise<void> {
  const a = args(argv, { model: { type: "string" }, input: { type: "string" }, output: { type: "string" }, kind: { type: "string" } }, USAGE);
  const kind = a.kind ?? "prob";
  if (!["raw", "prob", "leaf", "contrib"].includes(kind)) throw new UsageError(`--kind must be raw, prob, leaf or contrib, got ${kind}\n\n${USAGE}`);
  const modelPath = required(a.model, "--model", USAGE);
  const model = parseLightGBM(readFileSync(modelPath, "utf8"), modelPath);
  const input = required(a.input, "--input", USAGE);
  const records = readCsv(input);
  const rows = matrixFor(records, model.featureNames, (h) => h.replaceAll(" ", "_"), input, cellNumber);
  const ev = WasmGbdt.create(await WasmCore.load(), model);
  const n = records.length;
  const out = lineWriter(a.output);
  const [values, width] =
    kind === "raw" ? [ev.predictRaw(rows, n), model.numClass]
    : kind === "prob" ? [ev.predict(rows, n), model.numClass]
    : kind === "leaf" ? [ev.predictLeaf(rows, n), model.trees.length]
    : [ev.predictContrib(rows, n), model.numClass * (model.numFeatures + 1)];
  for (let r = 0; r < n; r++) out.write(Array.from(values.subarray(r * width, (r + 1) * width), String).join("\t"));
  await out.close();
}
