// `churn predict`: batch scoring of a customer CSV of any size, in chunks, against a running
// server or in-process. Without --budget rows stream out as they are scored; with it, every
// customer's options are kept and the same allocation the service uses runs over the whole file.
import { createReadStream, readFileSync } from "node:fs";
import { parse } from "csv-parse";
import { allocate } from "../../server/decision/budget.ts";
import { recordFields } from "../../server/features/csv.ts";
import type { ChurnService } from "../../server/service/api.ts";
import { Recommender } from "../../server/service/recommender.ts";
import type { Alternative, BatchPredictRequest, PredictResponse } from "../../server/service/schemas.ts";
import { createChurnClient } from "../index.ts";
import { args, csvCell, lineWriter, progress, required, UsageError } from "./common.ts";

const USAGE = `churn predict --input customers.csv (--server URL | --local [--models DIR]) [--budget N] [--chunk 1000] [--output results.csv]
  The CSV needs customer_id; columns that are not feature fields of the bundle are ignored.
  --budget allocates that total cost over the whole file, maximising expected value.`;

const HEADER = "customer_id,prediction_id,churn_probability,risk_level,should_intervene,intervention,churn_reduction,ci_lower,ci_upper,cost,expected_value,imputed_features";

type Pick_ = Pick<Alternative, "intervention" | "churn_reduction" | "ci_lower" | "ci_upper" | "cost" | "expected_value">;

function recommended(r: PredictResponse): Pick_ | null {
  if (r.recommended_intervention === null) return null;
  const [lo, hi] = r.confidence_interval!;
  return { intervention: r.recommended_intervention, churn_reduction: r.predicted_churn_reduction!, ci_lower: lo, ci_upper: hi, cost: r.cost!, expected_value: r.expected_value! };
}

function line(r: PredictResponse, c: Pick_ | null): string {
  return [
    r.customer_id, r.prediction_id, r.churn_probability, r.risk_level, c !== null, c?.intervention ?? "",
    c?.churn_reduction ?? "", c?.ci_lower ?? "", c?.ci_upper ?? "", c?.cost ?? "", c?.expected_value ?? "", r.imputed_features.join(";"),
  ].map(csvCell).join(",");
}

export async function predict(argv: string[]): Promise<void> {
  const a = args(argv, {
    input: { type: "string" }, server: { type: "string" }, local: { type: "boolean" }, models: { type: "string" },
    budget: { type: "string" }, chunk: { type: "string" }, output: { type: "string" },
  }, USAGE);
  const input = required(a.input, "--input", USAGE);
  if (!a.server === !a.local) throw new UsageError(`give either --server URL or --local\n\n${USAGE}`);
  const budget = a.budget === undefined ? undefined : Number(a.budget);
  if (budget !== undefined && !(budget >= 0)) throw new UsageError(`--budget must be a non-negative number\n\n${USAGE}`);
  const chunk = Number(a.chunk ?? "1000");
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > 10_000) throw new UsageError(`--chunk must be an integer in 1..10000\n\n${USAGE}`);
  let total: number;
  try {
    total = readFileSync(input, "utf8").split("\n").filter((l) => l.trim() !== "").length - 1;
  } catch (err) {
    throw new UsageError(`cannot read ${input}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }

  let service: Pick<ChurnService, "batchPredict">;
  let fields: string[];
  let close: () => void;
  if (a.local) {
    const local = await Recommender.open({ modelsDir: a.models ?? "models" });
    [service, fields, close] = [local, local.health().bundle!.fields, () => local.close()];
  } else {
    const client = createChurnClient(a.server!);
    const health = await client.health.query();
    service = { batchPredict: (req: BatchPredictRequest) => client.batchPredict.mutate(req) };
    [fields, close] = [health.bundle?.fields ?? [], () => client.close()];
  }

  const bar = progress(total);
  const out = lineWriter(a.output);
  out.write(HEADER);
  const held: { response: PredictResponse; options: Pick_[] }[] = [];
  const picked: Pick_[] = [];
  let count = 0;
  let lineNo = 1;
  const score = async (records: Record<string, string>[]) => {
    const customers = records.map((rec) => {
      lineNo++;
      if (!rec.customer_id) throw new UsageError(`${input} line ${lineNo}: no customer_id`);
      return { customer_id: rec.customer_id, ...recordFields(rec, fields) };
    });
    const { results } = await service.batchPredict({ customers, options: budget === undefined ? undefined : { include_alternatives: true, policy: "max_value" } });
    for (const r of results) {
      if (budget === undefined) {
        const c = recommended(r);
        if (c) picked.push(c);
        out.write(line(r, c));
      } else {
        // A customer's options under a budget: what qualifies for the max_value policy.
        const options: Pick_[] = r.should_intervene ? [recommended(r)!, ...r.alternatives.filter((x) => x.eligible && x.expected_value > 0)] : [];
        held.push({ response: r, options });
      }
    }
    count += results.length;
    bar.update(count);
  };
  try {
    let pending: Record<string, string>[] = [];
    for await (const rec of createReadStream(input).pipe(parse({ columns: true, skip_empty_lines: true }))) {
      pending.push(rec as Record<string, string>);
      if (pending.length >= chunk) {
        await score(pending);
        pending = [];
      }
    }
    if (pending.length) await score(pending);
    if (budget !== undefined) {
      const choice = allocate(held.map((h) => h.options.map((o) => ({ cost: o.cost, value: o.expected_value }))), budget);
      held.forEach((h, i) => {
        const c = choice[i] < 0 ? null : h.options[choice[i]];
        if (c) picked.push(c);
        out.write(line(h.response, c));
      });
    }
  } finally {
    bar.finish();
    await out.close();
    close();
  }
  const sum = (f: (p: Pick_) => number) => picked.reduce((s, p) => s + f(p), 0).toFixed(2);
  console.error(
    `${count} customers scored: intervene ${picked.length}, total cost ${sum((p) => p.cost)}, ` +
      `expected churn prevented ${sum((p) => p.churn_reduction)}, expected value ${sum((p) => p.expected_value)}`,
  );
}
