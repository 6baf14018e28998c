// `churn effects`: a causal-forest export on a CSV of its (already transformed) feature columns:
// effect, interval and standard error of every arm vs the control, per row.
import { readFileSync } from "node:fs";
import { readCausalForest } from "../../server/model/causal/load.ts";
import { WasmCore } from "../../server/wasm/core.ts";
import { WasmForest } from "../../server/wasm/forest.ts";
import { args, lineWriter, readCsv, required, UsageError } from "./common.ts";
import { cellNumber, matrixFor } from "./matrix.ts";

const USAGE = `churn effects --model FILE.safetensors --input X.csv [--alpha 0.05] [--output OUT.csv]
  Writes effect_<arm>, lower_<arm>, upper_<arm>, stderr_<arm> for every arm vs the control.`;

export async function effects(argv: string[]): Promise<void> {
  const a = args(argv, { model: { type: "string" }, input: { type: "string" }, alpha: { type: "string" }, output: { type: "string" } }, USAGE);
  const alpha = Number(a.alpha ?? "0.05");
  if (!(alpha > 0 && alpha < 1)) throw new UsageError(`--alpha must be in (0, 1), got ${a.alpha}\n\n${USAGE}`);
  const modelPath = required(a.model, "--model", USAGE);
  const forest = readCausalForest(new Uint8Array(readFileSync(modelPath)), modelPath);
  const input = required(a.input, "--input", USAGE);
  const records = readCsv(input);
  const rows = matrixFor(records, forest.featureColumns, (h) => h, input, (v, where) => {
    const x = cellNumber(v, where);
    // EconML refuses missing or infinite inputs: the pipeline imputes before the forest.
    if (!Number.isFinite(x)) throw new UsageError(`${where}: the forest needs finite values, got ${JSON.stringify(v)}`);
    return x;
  });
  const ev = WasmForest.create(await WasmCore.load(), forest);
  const result = ev.effects(rows, records.length, alpha);
  const arms = ev.arms;
  const out = lineWriter(a.output);
  out.write(arms.flatMap((arm) => ["effect", "lower", "upper", "stderr"].map((k) => `${k}_${arm}`)).join(","));
  for (let r = 0; r < records.length; r++) {
    const cells: number[] = [];
    arms.forEach((_, c) => {
      const i = r * arms.length + c;
      cells.push(result.effect[i], result.lower[i], result.upper[i], result.stderr[i]);
    });
    out.write(cells.map(String).join(","));
  }
  await out.close();
}
