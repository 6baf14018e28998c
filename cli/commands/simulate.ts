// `churn simulate`: what the recommendations are worth, on a customer file with the generator's
// ground truth (`p_none` and `p_<intervention>`: each customer's churn probability under each
// arm). The file runs through the service in-process (durable log, monitor, holdout) once per
// policy; each customer's outcome is drawn, seeded, from the true probability of the arm it
// actually got (none for holdout and untreated customers) and recorded as an outcome; then the
// monitor's realized uplift and policy value are printed next to the truth: the true mean uplift
// of the treated, the true value of the policy, and an oracle that knows the true effects.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CustomerRequest, PredictOptions, PredictResponse } from "../../server/contract/api.ts";
import type { ActiveAlert, UpliftSummary } from "../../server/contract/monitoring.ts";
import type { LabelledOutcome, PredictionObserver, PredictionRecord } from "../../server/contract/records.ts";
import { bundledModels } from "../../server/config.ts";
import { recordFields } from "../../server/features/csv.ts";
import { Monitor } from "../../server/monitor/monitor.ts";
import { Recommender } from "../../server/service/recommender.ts";
import { FileLog } from "../../server/store/log.ts";
import { WasmCore } from "../../server/wasm/core.ts";
import { args, readCsv, UsageError } from "./common.ts";

const USAGE = `churn simulate --input customers.csv [--models DIR] [--seed 1] [--runs 1] [--holdout 0.5] [--salt S] [--budget 5000] [--effect-scale 1]
  The CSV needs customer_id, the bundle's fields, p_none and p_<intervention> for every
  intervention of the bundle (the true churn probability under each arm). For each policy (risk
  gate, value gate, and --budget under each gate) the file is scored, outcomes are drawn from the
  true probability of the arm each customer got, and the service's realized uplift and policy
  value are printed next to the truth. --holdout is the share held out (0.5: on a few thousand
  customers a smaller one leaves intervals too wide to say much); --effect-scale k draws from
  p_none + k (p_arm - p_none) (0: interventions do nothing); --runs N repeats each policy with
  seeds seed..seed+N-1, the customers relabelled each time (a new holdout group), and prints how
  often the 95% intervals covered the truth.`;

/** One policy the simulation runs. */
export interface Scenario {
  name: string;
  options?: PredictOptions;
  budget?: number;
}

export interface SimulationOptions {
  input: string;
  modelsDir?: string;
  seed?: number;
  holdout?: number;
  salt?: string;
  /** Outcomes drawn from p_none + scale (p_arm - p_none). */
  effectScale?: number;
  scenarios: Scenario[];
  core?: WasmCore;
}

/** What one policy did, as the service measured it and as the truth has it. */
export interface ScenarioResult {
  scenario: string;
  customers: number;
  treated: number;
  held_out: number;
  /** Spent on the treated. */
  spend: number;
  uplift: UpliftSummary;
  /** The effect_calibration alerts firing at the end of the run. */
  alerts: ActiveAlert[];
  /** Mean of p_none - p_arm over the treated (their true mean uplift). */
  true_uplift_treated: number | null;
  /** Per customer the policy picks (treated and would-be among the holdout): true (p_none - p_arm) x value - cost. */
  true_value_per_customer: number | null;
  /** Customers the policy picks, held out or not. */
  picked: number;
  /** Best true value per customer over its eligible interventions (0 if none is worth it), summed over the file. */
  oracle_value: number;
}

/** mulberry32: a small seeded generator, the same draws on every runtime. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Truth {
  requests: CustomerRequest[];
  /** Per customer, the true churn probability by arm ("none" and each intervention). */
  p: Map<string, Record<string, number>>;
}

function readTruth(path: string, fields: string[], arms: string[]): Truth {
  const rows = readCsv(path);
  const requests: CustomerRequest[] = [];
  const p = new Map<string, Record<string, number>>();
  rows.forEach((row, i) => {
    const byArm: Record<string, number> = {};
    for (const arm of ["none", ...arms]) {
      const v = Number(row[`p_${arm}`]);
      if (row[`p_${arm}`] === undefined || row[`p_${arm}`] === "" || !(v >= 0 && v <= 1)) {
        throw new UsageError(`${path} line ${i + 2}: p_${arm} must be a probability (the ground truth the simulation draws from), got ${JSON.stringify(row[`p_${arm}`])}`);
      }
      byArm[arm] = v;
    }
    if (!row.customer_id) throw new UsageError(`${path} line ${i + 2}: no customer_id`);
    p.set(row.customer_id, byArm);
    requests.push({ customer_id: row.customer_id, ...recordFields(row, fields) });
  });
  return { requests, p };
}

const CHUNK = 10_000;

/** The monitor of the run in progress: each run is measured on its own. */
class RunObserver implements PredictionObserver {
  monitor = new Monitor();
  readonly records = new Map<string, PredictionRecord>();
  onPredictions(records: PredictionRecord[]): void {
    for (const r of records) this.records.set(r.prediction_id, r);
    this.monitor.onPredictions(records);
  }
  onOutcomes(outcomes: LabelledOutcome[]): void {
    this.monitor.onOutcomes(outcomes);
  }
}

/** One run of a scenario: the file scored (customer ids suffixed with the run after the first, so the holdout is drawn anew), outcomes drawn and recorded. */
async function run(service: Recommender, observer: RunObserver, truth: Truth, o: SimulationOptions, scenario: Scenario, k: number): Promise<ScenarioResult> {
  const scale = o.effectScale ?? 1;
  const draw = random((o.seed ?? 1) + k);
  const suffix = k === 0 ? "" : `#${k}`;
  const n = truth.requests.length;
  const results: PredictResponse[] = [];
  for (let from = 0; from < n; from += CHUNK) {
    const customers = truth.requests.slice(from, from + CHUNK).map((c) => ({ ...c, customer_id: c.customer_id + suffix }));
    // A budget larger than one call's batch is shared by the chunks in proportion to their size.
    const budget = scenario.budget === undefined ? undefined : (scenario.budget * customers.length) / n;
    // The first run lists every option (the oracle needs each customer's eligible interventions).
    const r = await service.batchPredict({ customers, budget, options: { ...scenario.options, include_alternatives: k === 0 } });
    results.push(...r.results);
  }
  let treated = 0, heldOut = 0, spend = 0, picked = 0, upliftSum = 0, valueSum = 0, oracle = 0;
  const outcomes = results.map((r, i) => {
    const p = truth.p.get(truth.requests[i].customer_id)!;
    const record = observer.records.get(r.prediction_id)!;
    const value = record.customer_value ?? 0;
    const trueReduction = (arm: string) => (arm === "none" ? 0 : scale * (p.none - p[arm]));
    if (k === 0) {
      // The oracle picks, among the interventions open to the customer, the best true value (or none).
      const open = [...r.alternatives.filter((a) => a.eligible), ...(r.should_intervene ? [{ intervention: r.recommended_intervention!, cost: r.cost! }] : [])];
      oracle += Math.max(0, ...open.map((a) => trueReduction(a.intervention) * value - a.cost));
    }
    if (record.recommended_intervention !== null) {
      picked++;
      valueSum += trueReduction(record.recommended_intervention) * value - record.cost!;
      if (r.holdout) heldOut++;
    }
    const arm = r.should_intervene ? r.recommended_intervention! : "none";
    if (r.should_intervene) {
      treated++;
      spend += r.cost!;
      upliftSum += trueReduction(arm);
    }
    return { prediction_id: r.prediction_id, churned: draw() < p.none - trueReduction(arm) };
  });
  for (let from = 0; from < outcomes.length; from += CHUNK) await service.recordOutcomes({ outcomes: outcomes.slice(from, from + CHUNK) });
  const snapshot = observer.monitor.snapshot();
  return {
    scenario: scenario.name,
    customers: n,
    treated,
    held_out: heldOut,
    spend,
    uplift: snapshot.uplift,
    alerts: snapshot.alerts.filter((a) => a.kind === "effect_calibration"),
    true_uplift_treated: treated ? upliftSum / treated : null,
    true_value_per_customer: picked ? valueSum / picked : null,
    picked,
    oracle_value: oracle,
  };
}

/**
 * Each scenario `runs` times (1) through a service of its own (log in a temporary folder); run k
 * draws outcomes with seed + k. Results by scenario, then run; the oracle is worked out in run 0.
 */
export async function simulate(o: SimulationOptions & { runs?: number }): Promise<ScenarioResult[][]> {
  const core = o.core ?? (await WasmCore.load());
  const modelsDir = o.modelsDir ?? bundledModels();
  const holdout = o.holdout ?? 0.5;
  const out: ScenarioResult[][] = [];
  let truth: Truth | null = null;
  for (const scenario of o.scenarios) {
    const dir = mkdtempSync(join(tmpdir(), "churn-simulate-"));
    const log = await FileLog.open(join(dir, "log"));
    const observer = new RunObserver();
    const service = await Recommender.open({
      modelsDir, core, log, history: log, observers: [log, observer],
      overrides: { holdout, holdoutSalt: o.salt ?? `simulate-${o.seed ?? 1}` },
    });
    try {
      const bundle = service.health().bundle!;
      truth ??= readTruth(o.input, bundle.fields, bundle.interventions);
      const runs: ScenarioResult[] = [];
      for (let k = 0; k < (o.runs ?? 1); k++) {
        observer.monitor = new Monitor();
        // No reference samples: the simulation reads the uplift block, not drift.
        observer.monitor.setBundle(bundle.version, { rows: 1, numeric: {}, categories: {}, effects: {} }, holdout);
        observer.records.clear();
        const r = await run(service, observer, truth, o, scenario, k);
        // Each run's lines committed before the next: a service would not outrun its log by minutes.
        await log.flushed();
        runs.push({ ...r, oracle_value: k === 0 ? r.oracle_value : runs[0].oracle_value });
      }
      out.push(runs);
    } finally {
      service.close();
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

export function defaultScenarios(budget: number): Scenario[] {
  return [
    { name: "risk gate" },
    { name: "value gate", options: { gate: "value" } },
    { name: `budget ${budget}, risk gate`, budget },
    { name: `budget ${budget}, value gate`, budget, options: { gate: "value" } },
  ];
}

const covers = (lo: number | null, hi: number | null, x: number | null) => lo !== null && hi !== null && x !== null && lo <= x && x <= hi;

/** Whether the realized intervals covered the truth: uplift of the treated, and value per customer. */
export function coverage(r: ScenarioResult): { uplift: boolean; value: boolean } {
  const u = r.uplift;
  return { uplift: covers(u.overall.ci_lower, u.overall.ci_upper, r.true_uplift_treated), value: covers(u.policy_value.ci_lower, u.policy_value.ci_upper, r.true_value_per_customer) };
}

const f = (v: number | null, d = 3) => (v === null ? "–" : v.toFixed(d));
const money = (v: number | null) => (v === null ? "–" : Math.round(v).toLocaleString("en-US"));

export function table(results: ScenarioResult[]): string {
  const head = ["policy", "treated", "held out", "spend", "realized uplift [95% CI]", "predicted", "true uplift", "realized value/cust [95% CI]", "true value/cust", "realized total", "true total", "oracle", "true/oracle"];
  const rows = results.map((r) => {
    const u = r.uplift;
    const pv = u.policy_value;
    const trueTotal = r.true_value_per_customer === null ? null : r.true_value_per_customer * r.picked;
    return [
      r.scenario, `${r.treated}/${r.customers}`, String(r.held_out), money(r.spend),
      `${f(u.overall.uplift)} [${f(u.overall.ci_lower)}, ${f(u.overall.ci_upper)}]`, f(u.overall.predicted_reduction), f(r.true_uplift_treated),
      `${f(pv.per_customer, 1)} [${f(pv.ci_lower, 1)}, ${f(pv.ci_upper, 1)}]`, f(r.true_value_per_customer, 1),
      money(pv.per_customer === null ? null : pv.per_customer * r.picked), money(trueTotal), money(r.oracle_value),
      trueTotal === null ? "–" : (trueTotal / r.oracle_value).toFixed(2),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(head), ...rows.map(line)].join("\n");
}

export async function simulateCommand(argv: string[]): Promise<void> {
  const a = args(argv, {
    input: { type: "string" }, models: { type: "string" }, seed: { type: "string" }, runs: { type: "string" }, holdout: { type: "string" },
    salt: { type: "string" }, budget: { type: "string" }, "effect-scale": { type: "string" },
  }, USAGE);
  if (!a.input) throw new UsageError(`missing --input\n\n${USAGE}`);
  const number = (flag: string, raw: string | undefined, fallback: number, ok: (v: number) => boolean) => {
    const v = raw === undefined ? fallback : Number(raw);
    if (!ok(v)) throw new UsageError(`--${flag}: got ${JSON.stringify(raw)}\n\n${USAGE}`);
    return v;
  };
  const seed = number("seed", a.seed, 1, Number.isInteger);
  const runs = number("runs", a.runs, 1, (v) => Number.isInteger(v) && v >= 1);
  const holdout = number("holdout", a.holdout, 0.5, (v) => v > 0 && v < 1);
  const budget = number("budget", a.budget, 5000, (v) => v >= 0);
  const effectScale = number("effect-scale", a["effect-scale"], 1, Number.isFinite);
  const results = await simulate({ input: a.input, modelsDir: a.models, seed, runs, holdout, salt: a.salt, effectScale, scenarios: defaultScenarios(budget) });
  console.log(`${a.input}: seed ${seed}, holdout ${holdout}, effect scale ${effectScale}\n${table(results.map((runs) => runs[0]))}`);
  if (runs > 1) {
    console.log(`\ncoverage of the 95% intervals over ${runs} runs (outcome seeds ${seed}..${seed + runs - 1}, a new holdout group each):`);
    for (const list of results) {
      const c = list.map(coverage);
      const rate = (k: "uplift" | "value") => (c.filter((x) => x[k]).length / c.length).toFixed(2);
      console.log(`  ${list[0].scenario.padEnd(28)} uplift of the treated ${rate("uplift")}   value per customer ${rate("value")}`);
    }
  }
}
