// `churn predict`: batch scoring of a customer CSV of any size, in chunks, against a running
// server or in-process. The whole file is checked first with a dry run (nothing logged, triggered
// or counted): a bad row stops the run before anything is acted on, each bad row named with its
// line and field (or, with --skip-invalid, written to a reject file and left out). With --budget
// that dry run also lists every customer's options and the service plans the budget over the whole
// file (`planBudget`); then each chunk is scored for real with the share of the budget that plan
// spent on it, so what the service triggers (workflow entries, cooldowns) is exactly what the
// output says. --dry-run stops after the check and prints what would be done.
import { TRPCClientError } from "@trpc/client";
import type { Alternative, CustomerRequest, PlanBudgetRequest, PlanBudgetResponse, PlanOption, PredictOptions, PredictResponse } from "../../server/contract/api.ts";
import { RequestError, type FieldIssue } from "../../server/contract/errors.ts";
import type { ChurnService } from "../../server/contract/service.ts";
import { bundledModels } from "../../server/config.ts";
import { Recommender } from "../../server/service/recommender.ts";
import { CustomerFileError, customerFileRows, type CustomerFileRow } from "../../server/store/customer-file.ts";
import { createChurnClient } from "../../client/index.ts";
import { args, csvCell, lineWriter, nonBlankLines, progress, required, UsageError } from "./common.ts";

const USAGE = `churn predict --input customers.csv (--server URL | --local [--models DIR]) [--budget N [--require-significance]]
              [--chunk 1000] [--output results.csv] [--dry-run] [--skip-invalid REJECTS.csv]
  The CSV needs customer_id; columns that are not feature fields of the bundle are ignored. The
  whole file is checked before anything is acted on: bad rows are listed by line and field and
  nothing is scored for real, unless --skip-invalid writes them to REJECTS.csv and leaves them out.
  --budget allocates that total cost over the whole file, maximising expected value (policy
  max_value); with --require-significance only interventions whose interval excludes 0 qualify.
  --dry-run prints what would be done (with --budget, the plan's picks) and acts on nothing.`;

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

/** The CSV in chunks of rows with their lines; a file that is not a customer table is a usage error naming it. */
async function* chunks(input: string, size: number, fields: string[]): AsyncGenerator<CustomerFileRow[]> {
  try {
    yield* customerFileRows(input, fields, size);
  } catch (err) {
    if (err instanceof CustomerFileError) throw new UsageError(err.message);
    throw err;
  }
}

/** The field problems of a refused call, however the service answered (in process, or over tRPC). */
function issuesOf(err: unknown): FieldIssue[] | null {
  if (err instanceof RequestError && err.status === 400) return err.issues;
  if (err instanceof TRPCClientError && err.data?.code === "BAD_REQUEST") return (err.data as { issues?: FieldIssue[] }).issues ?? null;
  return null;
}

type Service = { batchPredict: ChurnService["batchPredict"]; planBudget(request: PlanBudgetRequest): PlanBudgetResponse | Promise<PlanBudgetResponse> };

/**
 * Dry-runs a chunk; rows the service refuses are taken out (with their issues) and the rest sent
 * again, until it answers: an error lists at most 100 issues, so one pass may not name them all.
 */
async function check(service: Service, rows: CustomerFileRow[], options: PredictOptions): Promise<{ results: PredictResponse[]; kept: CustomerFileRow[]; bad: { row: CustomerFileRow; issues: FieldIssue[] }[] }> {
  let kept = rows;
  const bad: { row: CustomerFileRow; issues: FieldIssue[] }[] = [];
  for (;;) {
    if (kept.length === 0) return { results: [], kept, bad };
    try {
      const { results } = await service.batchPredict({ customers: kept.map((r) => r.row), options: { ...options, dry_run: true } });
      return { results, kept, bad };
    } catch (err) {
      const issues = issuesOf(err);
      if (!issues?.length) throw err;
      const byRow = new Map<number, FieldIssue[]>();
      for (const i of issues) {
        const k = i.path[0] === "customers" && typeof i.path[1] === "number" ? i.path[1] : -1;
        if (k < 0) throw err; // not about one row: the call itself is wrong
        byRow.set(k, [...(byRow.get(k) ?? []), { path: i.path.slice(2), message: i.message }]);
      }
      for (const [k, list] of byRow) bad.push({ row: kept[k], issues: list });
      kept = kept.filter((_, k) => !byRow.has(k));
    }
  }
}

const describe = (issues: FieldIssue[]) => issues.map((i) => `${i.path.join(".") || "row"}: ${i.message}`).join("; ");

export async function predict(argv: string[]): Promise<void> {
  const a = args(argv, {
    input: { type: "string" }, server: { type: "string" }, local: { type: "boolean" }, models: { type: "string" },
    budget: { type: "string" }, "require-significance": { type: "boolean" }, chunk: { type: "string" }, output: { type: "string" },
    "dry-run": { type: "boolean" }, "skip-invalid": { type: "string" },
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

  let service: Service;
  let fields: string[];
  let close: () => void;
  if (a.local) {
    const local = await Recommender.open({ modelsDir: a.models ?? bundledModels() });
    [service, fields, close] = [local, local.health().bundle!.fields, () => local.close()];
  } else {
    const url = a.server!;
    const client = createChurnClient(url);
    // A failure to connect names the service it tried; the service's own answers pass as they are.
    const reach = async <T>(call: () => Promise<T>): Promise<T> => {
      try {
        return await call();
      } catch (err) {
        if (err instanceof TRPCClientError && err.data === undefined) throw new Error(`cannot reach the service at ${url}: ${err.message}`);
        throw err;
      }
    };
    const health = await reach(() => client.health.query());
    service = { batchPredict: (req) => reach(() => client.batchPredict.mutate(req)), planBudget: (req) => reach(() => client.planBudget.mutate(req)) };
    [fields, close] = [health.bundle?.fields ?? [], () => client.close()];
  }

  const options: PredictOptions = budget === undefined ? {} : { policy: "max_value", require_significance: a["require-significance"] === true, include_alternatives: true };
  const dryRun = a["dry-run"] === true;
  const bar = progress(dryRun ? total : 2 * total);
  const out = lineWriter(a.output);
  const rejects = a["skip-invalid"] ? lineWriter(a["skip-invalid"]) : null;
  const picked: Pick_[] = [];
  let progressed = 0;
  let count = 0;
  try {
    // The check: every row dry-run, bad ones collected; with a budget, every customer's options.
    const badLines = new Set<number>();
    const bad: { row: CustomerFileRow; issues: FieldIssue[] }[] = [];
    const held: PlanOption[][] = [];
    const chunkOf: number[] = [];
    const checked: PredictResponse[] = [];
    let c = 0;
    for await (const rows of chunks(input, chunk, fields)) {
      const r = await check(service, rows, options);
      for (const b of r.bad) badLines.add(b.row.line);
      bad.push(...r.bad);
      for (const res of r.results) {
        // A customer the service would act on offers its recommendation and the alternatives.
        const chosen = recommended(res);
        if (budget !== undefined) held.push(chosen ? [{ ...chosen, eligible: true }, ...res.alternatives] : []);
        chunkOf.push(c);
        if (dryRun) checked.push(res);
      }
      c++;
      bar.update((progressed += rows.length));
    }
    bad.sort((x, y) => x.row.line - y.row.line);
    if (bad.length && !rejects) {
      bar.finish();
      const shown = bad.slice(0, 50).map((b) => `${input} line ${b.row.line}: ${describe(b.issues)}`);
      throw new UsageError(`${bad.length} invalid row(s); nothing was scored for real (--skip-invalid FILE leaves them out):\n${shown.join("\n")}${bad.length > 50 ? `\n... and ${bad.length - 50} more` : ""}`);
    }
    if (rejects) {
      rejects.write("line,customer_id,problems");
      for (const b of bad) rejects.write([b.row.line, b.row.row.customer_id, describe(b.issues)].map(csvCell).join(","));
    }

    // What each chunk may spend: what the service's plan over the whole file spent on its customers.
    let shares: number[] | null = null;
    let plan: PlanBudgetResponse | null = null;
    if (budget !== undefined) {
      plan = await service.planBudget({ budget, policy: "max_value", require_significance: options.require_significance, customers: held });
      shares = new Array<number>(c).fill(0);
      plan.picks.forEach((pick, i) => {
        if (pick !== null) shares![chunkOf[i]] += held[i].find((o) => o.intervention === pick)!.cost;
      });
    }
    out.write(HEADER);
    if (dryRun) {
      checked.forEach((r, i) => {
        // The plan's pick is the recommendation or one of the alternatives the dry run listed.
        const name = plan ? plan.picks[i] : r.recommended_intervention;
        const pick = name === null ? null : name === r.recommended_intervention ? recommended(r) : r.alternatives.find((x) => x.intervention === name)!;
        if (pick) picked.push(pick);
        out.write(line(r, pick));
      });
      count = checked.length;
    } else {
      const real: PredictOptions | undefined = budget === undefined ? undefined : { policy: "max_value", require_significance: options.require_significance };
      let planned = 0;
      let spent = 0;
      c = 0;
      for await (const rows of chunks(input, chunk, fields)) {
        // Budget an earlier chunk left unspent carries over: the total never exceeds the plan.
        if (shares) planned += shares[c++];
        const customers: CustomerRequest[] = rows.filter((r) => !badLines.has(r.line)).map((r) => r.row);
        if (customers.length) {
          const { results, summary } = await service.batchPredict({ customers, options: real, budget: shares ? Math.max(0, planned - spent) : undefined });
          spent += summary.total_cost;
          for (const r of results) {
            const chosen = recommended(r);
            if (chosen) picked.push(chosen);
            out.write(line(r, chosen));
          }
          count += results.length;
        }
        bar.update((progressed += rows.length));
      }
    }
    if (bad.length) console.error(`${bad.length} invalid row(s) left out, written to ${a["skip-invalid"]}`);
  } finally {
    bar.finish();
    await out.close();
    await rejects?.close();
    close();
  }
  const sum = (f: (p: Pick_) => number) => picked.reduce((s, p) => s + f(p), 0).toFixed(2);
  console.error(
    `${count} customers ${dryRun ? "checked (dry run: nothing acted on)" : "scored"}: intervene ${picked.length}, total cost ${sum((p) => p.cost)}, ` +
      `expected churn prevented ${sum((p) => p.churn_reduction)}, expected value ${sum((p) => p.expected_value)}`,
  );
}
