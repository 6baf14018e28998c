// `churn predict`: batch scoring of a customer CSV of any size, in chunks, against a running
// server or in-process. Without --budget rows stream out as they are scored. With it the file is
// read twice: a dry run (nothing logged or triggered) lists every customer's options, and the
// service plans the budget over the whole file (`planBudget`); then each chunk is scored for real
// with the share of the budget that plan spent on it, so what the service triggers (workflow
// entries, cooldowns) is exactly what the output says.
import type { Alternative, CustomerRequest, PlanBudgetRequest, PlanBudgetResponse, PlanOption, PredictResponse } from "../../server/contract/api.ts";
import type { ChurnService } from "../../server/contract/service.ts";
import { bundledModels } from "../../server/config.ts";
import { Recommender } from "../../server/service/recommender.ts";
import { CustomerFileError, customerFileRows } from "../../server/store/customer-file.ts";
import { createChurnClient } from "../../client/index.ts";
import { args, csvCell, lineWriter, nonBlankLines, progress, required, UsageError } from "./common.ts";

const USAGE = `churn predict --input customers.csv (--server URL | --local [--models DIR]) [--budget N [--require-significance]] [--chunk 1000] [--output results.csv]
  The CSV needs customer_id; columns that are not feature fields of the bundle are ignored.
  --budget allocates that total cost over the whole file, maximising expected value (policy
  max_value); with --require-significance only interventions whose interval excludes 0 qualify.`;

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

/** The CSV in chunks of customers; a file that is not a customer table is a usage error naming it. */
async function* chunks(input: string, size: number, fields: string[]): AsyncGenerator<CustomerRequest[]> {
  try {
    for await (const chunk of customerFileRows(input, fields, size)) yield chunk.map((c) => c.row);
  } catch (err) {
    if (err instanceof CustomerFileError) throw new UsageError(err.message);
    throw err;
  }
}

export async function predict(argv: string[]): Promise<void> {
  const a = args(argv, {
    input: { type: "string" }, server: { type: "string" }, local: { type: "boolean" }, models: { type: "string" },
    budget: { type: "string" }, "require-significance": { type: "boolean" }, chunk: { type: "string" }, output: { type: "string" },
  }, USAGE);
  const input = required(a.input, "--input", USAGE);
  if (!a.server === !a.local) throw new UsageError(`give either --server URL or --local\n\n${USAGE}`);
  const budget = a.budget === undefined ? undefined : Number(a.budget);
  if (budget !== undefined && !(budget >= 0)) throw new UsageError(`--budget must be a non-negative number\n\n${USAGE}`);
  if (a["require-significance"] && budget === undefined) throw new UsageError(`--require-significance goes with --budget\n\n${USAGE}`);
  const chunk = Number(a.chunk ?? "1000");
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > 10_000) throw new UsageError(`--chunk must be an integer in 1..10000\n\n${USAGE}`);
  let total: number;
  try {
    total = (await nonBlankLines(input)) - 1;
  } catch (err) {
    throw new UsageError(`cannot read ${input}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }

  let service: { batchPredict: ChurnService["batchPredict"]; planBudget(request: PlanBudgetRequest): PlanBudgetResponse | Promise<PlanBudgetResponse> };
  let fields: string[];
  let close: () => void;
  if (a.local) {
    const local = await Recommender.open({ modelsDir: a.models ?? bundledModels() });
    [service, fields, close] = [local, local.health().bundle!.fields, () => local.close()];
  } else {
    const client = createChurnClient(a.server!);
    const health = await client.health.query();
    service = { batchPredict: (req) => client.batchPredict.mutate(req), planBudget: (req) => client.planBudget.mutate(req) };
    [fields, close] = [health.bundle?.fields ?? [], () => client.close()];
  }

  const options = budget === undefined ? undefined : { policy: "max_value" as const, require_significance: a["require-significance"] === true };
  const bar = progress(budget === undefined ? total : 2 * total);
  const out = lineWriter(a.output);
  const picked: Pick_[] = [];
  let progressed = 0;
  let count = 0;
  try {
    // What each chunk may spend: what the service's plan over the whole file spent on its customers.
    let shares: number[] | null = null;
    if (budget !== undefined) {
      const held: PlanOption[][] = [];
      const chunkOf: number[] = [];
      let c = 0;
      for await (const customers of chunks(input, chunk, fields)) {
        const { results } = await service.batchPredict({ customers, options: { ...options, include_alternatives: true, dry_run: true } });
        for (const r of results) {
          // A customer the service would act on offers its recommendation and the alternatives.
          const chosen = recommended(r);
          held.push(chosen ? [{ ...chosen, eligible: true }, ...r.alternatives] : []);
          chunkOf.push(c);
        }
        c++;
        bar.update((progressed += results.length));
      }
      const plan = await service.planBudget({ budget, ...options!, customers: held });
      shares = new Array<number>(c).fill(0);
      plan.picks.forEach((pick, i) => {
        if (pick !== null) shares![chunkOf[i]] += held[i].find((o) => o.intervention === pick)!.cost;
      });
    }
    out.write(HEADER);
    let planned = 0;
    let spent = 0;
    let c = 0;
    for await (const customers of chunks(input, chunk, fields)) {
      // Budget an earlier chunk left unspent carries over: the total never exceeds the plan.
      if (shares) planned += shares[c++];
      const { results, summary } = await service.batchPredict({ customers, options, budget: shares ? Math.max(0, planned - spent) : undefined });
      spent += summary.total_cost;
      for (const r of results) {
        const chosen = recommended(r);
        if (chosen) picked.push(chosen);
        out.write(line(r, chosen));
      }
      count += results.length;
      bar.update((progressed += results.length));
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
