// The one implementation of the service's operations (tRPC, REST and the CLI all call it):
// request -> features -> WASM core (churn, then effects) -> decision -> response -> observers.
import { BundleHolder } from "../bundle/holder.ts";
import type { Bundle } from "../bundle/load.ts";
import { scoreCustomers } from "../bundle/score.ts";
import { cooldownMs } from "../contract/bundle.ts";
import type {
  Alternative,
  BatchPredictResponse,
  CustomerBatch,
  CustomerImportRequest,
  CustomerImportResponse,
  CustomerProfile,
  CustomerQuery,
  CustomerRequest,
  IngestResponse,
  HealthResponse,
  OutcomeRequest,
  OutcomeResponse,
  PlanBudgetRequest,
  PlanBudgetResponse,
  PredictOptions,
  PredictResponse,
} from "../contract/api.ts";
import { RequestError, UnavailableError, type FieldIssue } from "../contract/errors.ts";
import { defaultReplica, PredictionIds } from "../contract/ids.ts";
import type { Effects, PredictionObserver, PredictionRecord } from "../contract/records.ts";
import type { CustomerEvent } from "../contract/events.ts";
import type { ChurnService } from "../contract/service.ts";
import { CustomerDataRefusal, type CustomerData, type Profile } from "../contract/customer-data.ts";
import { workflowPayload, type InterventionHistory, type InterventionStart, type PredictionLog } from "../contract/storage.ts";
import { decide, needsEffects, score, type Decision, type DecisionSettings } from "../decision/decide.ts";
import { inHoldout } from "../decision/holdout.ts";
import type { Resolved } from "../features/pipeline.ts";
import { MemoryInterventionHistory } from "../store/history.ts";
import { traced } from "../observability/trace-context.ts";
import { WasmCore } from "../wasm/core.ts";
import { pickWithin, planBudget } from "./budget-plan.ts";
import { importCustomers, ingestEvents, profileView, refusal } from "./customers.ts";
import { recordOutcomes } from "./outcomes.ts";

export interface RecommenderOptions {
  /** The model bundle folder (a bundle, or the original design's four pickles). */
  modelsDir: string;
  /** For a folder of pickles: what the churn model was trained on. */
  churnInput?: "raw" | "scaled";
  /** Customer profiles (events and imported rows): where omitted features are looked up before imputation. */
  customers?: CustomerData;
  /** Event types that score their customer once applied (DESIGN section 8's default set). */
  triggers?: readonly string[];
  /** When each intervention was last started per customer, and starting one (cooldowns); in memory by default. */
  history?: InterventionHistory;
  /** Where outcomes find their predictions; without one, no outcome can be joined. */
  log?: PredictionLog;
  /** Receive every answered prediction and joined outcome (log, monitoring, workflow). */
  observers?: PredictionObserver[];
  /** Customers per batchPredict call (10,000). */
  maxBatchCustomers?: number;
  /** Decision settings that override the bundle manifest's defaults (`holdout`: the share held out). */
  overrides?: Partial<DecisionSettings> & { confidenceLevel?: number; holdout?: number; holdoutSalt?: string };
  /** Share a WASM instance (tests); one is created otherwise. */
  core?: WasmCore;
  /** Called with every bundle put in service (at open and after each reload). */
  onBundle?: (bundle: Bundle) => void;
  /** This process's name among the replicas (health says it). */
  replica?: string;
}

interface Scored {
  /** Its prediction id, given before any intervention starts (the workflow entry carries it). */
  id: string;
  request: CustomerRequest;
  resolved: Resolved;
  settings: DecisionSettings;
  confidence: number;
  includeAlternatives: boolean | undefined;
  /** Answer only: nothing recorded, nothing triggered. */
  dryRun: boolean;
  probability: number;
  effects: Effects | null;
  decision: Decision;
  /** Held out of any intervention (DESIGN section 10); never for a dry run, which acts on no one. */
  holdout: boolean;
  /** When each intervention was last started for the customer, as known when deciding. */
  lastStarts: Record<string, number>;
  /** The decision's instant (ms since the epoch): the record's time and any start's. */
  at: number;
}

/** The decision settings and confidence level that apply to a request. */
interface Applied {
  settings: DecisionSettings;
  confidence: number;
}

/** The options every customer of a call starts from, and what they apply. */
interface Base {
  options: PredictOptions | undefined;
  applied: Applied;
}

export const DEFAULT_TRIGGERS = ["login", "billing", "usage", "support_ticket"];

/** Whether a request carries any feature field (anything beside customer_id and options). */
function hasFields(request: CustomerRequest): boolean {
  for (const key in request) if (key !== "customer_id" && key !== "options") return true;
  return false;
}

export function runtimeName(): string {
  const deno = (globalThis as { Deno?: { version: { deno: string } } }).Deno;
  return deno ? `deno ${deno.version.deno}` : `node ${process.versions.node}`;
}

export class Recommender implements ChurnService {
  private readonly started = Date.now();
  private readonly history: InterventionHistory;
  private readonly observers: PredictionObserver[];
  private readonly maxBatch: number;
  private readonly triggers: ReadonlySet<string>;
  /** This process's prediction ids: logged ones count densely, so the log indexes them by position. */
  private readonly ids = new PredictionIds();
  /** Dry runs' ids, from a prefix of their own: they would leave gaps in the logged sequence. */
  private readonly dryRunIds = new PredictionIds();
  /** What applies to a request without options, computed once per bundle. */
  private defaults: { bundle: Bundle; applied: Applied } | null = null;

  private constructor(
    private readonly holder: BundleHolder,
    private readonly options: RecommenderOptions,
  ) {
    this.history = options.history ?? new MemoryInterventionHistory();
    this.observers = options.observers ?? [];
    this.maxBatch = options.maxBatchCustomers ?? 10_000;
    this.triggers = new Set(options.triggers ?? DEFAULT_TRIGGERS);
  }

  /** Loads the bundle (refusing a bad one with the file and the problem) and starts serving. */
  static async open(options: RecommenderOptions): Promise<Recommender> {
    const core = options.core ?? (await WasmCore.load());
    const holder = new BundleHolder(options.modelsDir, core, { churnInput: options.churnInput });
    const bundle = await holder.reload();
    options.onBundle?.(bundle);
    return new Recommender(holder, options);
  }

  async reload(): Promise<{ version: string }> {
    const bundle = await this.holder.reload();
    this.options.onBundle?.(bundle);
    return { version: bundle.version };
  }

  close(): void {
    this.holder.close();
  }

  /** Work that would be logged is refused (503) while the log cannot write, rather than acted on unlogged. */
  private requireLog(): void {
    const error = this.options.log?.writeError;
    if (error) throw new UnavailableError(`the prediction log cannot write, so nothing that it would record is done until it can (${error.message})`, 5);
  }

  health(): HealthResponse {
    const b = this.holder.bundle;
    const logError = this.options.log?.writeError ?? null;
    return {
      status: b ? "ok" : "starting",
      live: true,
      ready: b !== null && logError === null,
      ...(this.options.log ? { storage: { ok: logError === null, error: logError?.message ?? null } } : {}),
      model_version: b?.version ?? null,
      bundle: b
        ? {
            name: b.manifest.name,
            version: b.manifest.version,
            loaded_at: b.loadedAt.toISOString(),
            fields: b.pipeline.fieldNames,
            interventions: b.interventions.map((i) => i.name),
          }
        : null,
      uptime_s: (Date.now() - this.started) / 1000,
      runtime: runtimeName(),
      replica: this.options.replica ?? defaultReplica(),
    };
  }

  async predict(request: CustomerRequest): Promise<PredictResponse> {
    const t0 = performance.now();
    this.requireLog();
    return this.holder.use(async (bundle) => {
      const issues: FieldIssue[] = [];
      const base = this.base(bundle, undefined);
      const [[profile], starts] = await Promise.all([this.profiles([request], base, [[]], issues), this.history.lastTriggered([request.customer_id])]);
      if (profile === null) {
        throw new RequestError(`no customer ${JSON.stringify(request.customer_id)}: no events, no imported row, and no fields in the request`, [{ path: ["customer_id"], message: "unknown customer" }], 404);
      }
      const input = issues.length ? null : traced("features", () => this.resolve(bundle, request, base, [], issues, profile));
      if (!input) throw new RequestError("invalid request", issues);
      const scored = this.score(bundle, [input], starts);
      const chosen = [scored[0].decision.chosen];
      await this.start(bundle, scored, chosen, false);
      const response = this.respond(bundle, scored[0], chosen[0], performance.now() - t0);
      traced("log", () => this.deliver(bundle, scored, [response], chosen, "predict"));
      return response;
    });
  }

  async batchPredict(request: CustomerBatch): Promise<BatchPredictResponse> {
    const t0 = performance.now();
    const n = request.customers.length;
    this.requireLog();
    if (n > this.maxBatch) {
      throw new RequestError(`a batch holds at most ${this.maxBatch} customers; got ${n} (split it into several calls)`, [{ path: ["customers"], message: `at most ${this.maxBatch} customers` }], 413);
    }
    return this.holder.use(async (bundle) => {
      const issues: FieldIssue[] = [];
      const base = this.base(bundle, request.options);
      const paths = request.customers.map((_, i) => ["customers", i]);
      const [profiles, starts] = await Promise.all([
        this.profiles(request.customers, base, paths, issues),
        this.history.lastTriggered(request.customers.map((c) => c.customer_id)),
      ]);
      profiles.forEach((p, i) => p === null && issues.push({ path: [...paths[i], "customer_id"], message: "unknown customer: no events, no imported row, and no fields in the request" }));
      const inputs = traced("features", () => request.customers.map((c, i) => this.resolve(bundle, c, base, paths[i], issues, profiles[i] ?? undefined)));
      if (issues.length) throw new RequestError("invalid request", issues);
      const scored = this.score(bundle, inputs as ScoredInput[], starts);
      const chosen = scored.map((s) => s.decision.chosen);
      if (request.budget !== undefined) {
        // Within the budget, the batch maximises total expected value over the qualifying options of
        // the customers through the gate. Holdout customers take part and their picks are then
        // withheld (their share stays unspent): treated and held out are picked by the same rule.
        pickWithin(scored.map((s) => (s.decision.open ? s.decision.qualifying : [])), request.budget).forEach((pick, i) => (chosen[i] = pick));
      }
      await this.start(bundle, scored, chosen, request.budget !== undefined);
      const elapsed = performance.now() - t0;
      const results = scored.map((s, i) => this.respond(bundle, s, chosen[i], elapsed));
      traced("log", () => this.deliver(bundle, scored, results, chosen, "batchPredict"));
      const picked = chosen.filter((c, i): c is Alternative => c !== null && !scored[i].holdout);
      return {
        results,
        summary: {
          count: n,
          intervene: picked.length,
          total_cost: picked.reduce((s, c) => s + c.cost, 0),
          expected_churn_prevented: picked.reduce((s, c) => s + c.churn_reduction, 0),
          expected_value: picked.reduce((s, c) => s + c.expected_value, 0),
        },
      };
    });
  }

  /** Applies customer events; events of the trigger set score their customer at the event's instant. */
  async ingestEvents(events: CustomerEvent[], batch: boolean): Promise<IngestResponse> {
    this.requireLog();
    return ingestEvents(this.customerData(), this.triggers, events, batch, (customer_id, as_of) => this.predict({ customer_id, options: { as_of } }), this.observers);
  }

  /** The customer's profile as the model would see it at `as_of` (now by default); 404 for an unknown customer. */
  async getCustomer(query: CustomerQuery): Promise<CustomerProfile> {
    const data = this.customerData();
    return this.holder.use(async (bundle) => {
      const at = query.as_of === undefined ? Date.now() : Date.parse(query.as_of);
      let profile;
      try {
        profile = await data.profile(query.customer_id, at);
      } catch (err) {
        refusal(err, () => ["as_of"]);
      }
      if (!profile) throw new RequestError(`no customer ${JSON.stringify(query.customer_id)}: no events and no imported row`, [{ path: ["customer_id"], message: "unknown customer" }], 404);
      return profileView(bundle, query.customer_id, at, profile);
    });
  }

  /** Rows of an existing customer table; a row with any problem is refused whole. */
  async importCustomers(request: CustomerImportRequest): Promise<CustomerImportResponse> {
    const data = this.customerData();
    return this.holder.use((bundle) => importCustomers(bundle, data, request));
  }

  private customerData(): CustomerData {
    if (!this.options.customers) throw new Error("this service was opened without a customer store");
    return this.options.customers;
  }

  planBudget(request: PlanBudgetRequest): PlanBudgetResponse {
    return planBudget(request);
  }

  recordOutcomes(request: OutcomeRequest): Promise<OutcomeResponse> {
    this.requireLog();
    return recordOutcomes(this.options.log, this.observers, request);
  }

  private applied(bundle: Bundle, options: PredictOptions): Applied {
    const d = bundle.manifest.decision;
    const o = this.options.overrides ?? {};
    const settings: DecisionSettings = {
      threshold: options.threshold ?? o.threshold ?? d.churn_threshold,
      riskMedium: o.riskMedium ?? d.risk_levels.medium,
      riskHigh: o.riskHigh ?? d.risk_levels.high,
      policy: options.policy ?? o.policy ?? d.policy,
      gate: options.gate ?? o.gate ?? d.gate,
      requireSignificance: options.require_significance ?? o.requireSignificance ?? d.require_significance,
      maxCost: options.max_cost ?? o.maxCost ?? d.max_cost,
      valueField: d.value_field,
      valueHorizonMonths: o.valueHorizonMonths ?? d.value_horizon_months,
    };
    return { settings, confidence: options.confidence_level ?? o.confidenceLevel ?? d.confidence_level };
  }

  /** What applies to requests with these options: without any, the bundle's defaults, computed once per bundle. */
  private base(bundle: Bundle, options: PredictOptions | undefined): Base {
    if (options) return { options, applied: this.applied(bundle, options) };
    if (this.defaults?.bundle !== bundle) this.defaults = { bundle, applied: this.applied(bundle, {}) };
    return { options, applied: this.defaults.applied };
  }

  /**
   * Each customer's stored profile at its scoring instant (`as_of`, else now): undefined where the
   * request carries fields and the store has nothing, null where it has neither (an unknown
   * customer). A refused instant is an issue under the request's `options.as_of`.
   */
  async profiles(requests: CustomerRequest[], base: Base, paths: (string | number)[][], issues: FieldIssue[]): Promise<(Profile | null | undefined)[]> {
    const data = this.options.customers;
    if (!data) return requests.map((r) => (hasFields(r) ? undefined : null));
    const now = Date.now();
    const asOf = requests.map((r) => r.options?.as_of ?? base.options?.as_of);
    let profiles: (Profile | undefined)[];
    try {
      profiles = await data.profiles(requests.map((r, i) => ({ customer_id: r.customer_id, at: asOf[i] === undefined ? now : Date.parse(asOf[i]!) })));
    } catch (err) {
      if (!(err instanceof CustomerDataRefusal)) throw err;
      // A refused instant is an issue under the options that set it: the customer's own, else the call's.
      for (const x of err.issues) {
        const i = x.path[0] as number;
        issues.push({ path: requests[i].options?.as_of !== undefined ? [...paths[i], "options", "as_of"] : ["options", "as_of"], message: x.message });
      }
      return requests.map(() => undefined);
    }
    return profiles.map((p, i) => p ?? (hasFields(requests[i]) ? undefined : null));
  }

  private resolve(bundle: Bundle, request: CustomerRequest, base: Base, path: (string | number)[], issues: FieldIssue[], profile?: Profile): ScoredInput | null {
    const resolved = bundle.pipeline.resolve(request, profile?.values, path, issues);
    if (!resolved) return null;
    // A customer's own options override the batch's; only then are settings worked out again.
    const options = request.options ? { ...base.options, ...request.options } : base.options;
    const applied = request.options ? this.applied(bundle, options!) : base.applied;
    return { request, resolved, settings: applied.settings, confidence: applied.confidence, includeAlternatives: options?.include_alternatives, dryRun: options?.dry_run === true };
  }

  /** Both models over all rows at once; the forest where the gate needs it, or when alternatives are asked for. */
  private score(bundle: Bundle, inputs: ScoredInput[], starts: Map<string, Record<string, number>>): Scored[] {
    const { probabilities, effects } = scoreCustomers(bundle, inputs.map((input) => input.resolved), (i, p) =>
      needsEffects(p, inputs[i].settings) || inputs[i].includeAlternatives === true ? inputs[i].confidence : null,
    );
    const now = Date.now();
    const holdout = this.holdout(bundle);
    const known = new Map<string, Record<string, number>>();
    return traced("decision", () => inputs.map((input, i) => {
      const customer = input.request.customer_id;
      // One object per customer of the call: a start for one of its requests is seen by the others.
      let lastStarts = known.get(customer);
      if (!lastStarts) known.set(customer, (lastStarts = { ...starts.get(customer) }));
      const decision = decide(probabilities[i], input.resolved.values, effects[i], bundle.interventions, input.settings, (iv) => lastStarts[iv], now);
      const held = decision.open && !input.dryRun && inHoldout(customer, holdout.fraction, holdout.salt);
      const id = (input.dryRun ? this.dryRunIds : this.ids).next();
      // Field by field, not `{ ...input }`: a spread of these objects cost ~9 µs a customer (V8's
      // object clone went generic; measured in a /batch-predict profile).
      return {
        request: input.request, resolved: input.resolved, settings: input.settings, confidence: input.confidence,
        includeAlternatives: input.includeAlternatives, dryRun: input.dryRun,
        id, at: now, probability: probabilities[i], effects: effects[i], decision, holdout: held, lastStarts,
      };
    }));
  }

  /**
   * Starts the chosen interventions (their cooldowns, and where the store can their workflow
   * entries, in one commit) before answering. One that another request or replica started first
   * is now in cooldown: the customer's decision is made again without it (in a budget batch the
   * customer goes without, the budget's other picks standing). A customer twice in one call
   * starts one after the other. Held-out customers and dry runs start nothing.
   */
  private async start(bundle: Bundle, scored: Scored[], chosen: (Alternative | null)[], budgeted: boolean): Promise<void> {
    const started = new Set<number>();
    const waiting = () => scored.flatMap((s, i) => (chosen[i] !== null && !s.holdout && !s.dryRun && !started.has(i) ? [i] : []));
    // Each round settles at least the first claim of every key; each failure rules an intervention out.
    for (let round = 0, pending = waiting(); pending.length > 0; round++, pending = waiting()) {
      if (round > bundle.interventions.length) {
        for (const i of pending) chosen[i] = null;
        return;
      }
      const keys = new Set<string>();
      const batch = pending.filter((i) => {
        const key = `${scored[i].request.customer_id}\n${chosen[i]!.intervention}`;
        return !keys.has(key) && keys.add(key) !== undefined;
      });
      const starts: InterventionStart[] = batch.map((i) => this.intervention(bundle, scored[i], chosen[i]!));
      const ok = await this.history.start(starts);
      batch.forEach((i, k) => {
        const s = scored[i];
        // The customer's other requests in this call see this start (or the one that beat it).
        s.lastStarts[starts[k].intervention] = starts[k].at;
        if (ok[k]) return void started.add(i);
        if (budgeted) return void (chosen[i] = null);
        s.decision = decide(s.probability, s.resolved.values, s.effects, bundle.interventions, s.settings, (iv) => s.lastStarts[iv], s.at);
        chosen[i] = s.decision.chosen;
      });
    }
  }

  private intervention(bundle: Bundle, s: Scored, pick: Alternative): InterventionStart {
    const iv = bundle.interventions.find((x) => x.name === pick.intervention);
    return {
      customer_id: s.request.customer_id,
      intervention: pick.intervention,
      at: s.at,
      cooldown_ms: iv ? cooldownMs(iv) : 0,
      workflow: workflowPayload({
        prediction_id: s.id, customer_id: s.request.customer_id, recommended_intervention: pick.intervention, cost: pick.cost, expected_value: pick.expected_value,
        churn_probability: s.probability, predicted_churn_reduction: pick.churn_reduction, model_version: bundle.version, at: s.at,
      }),
    };
  }

  /** The holdout share and salt: the configuration's over the bundle manifest's. */
  private holdout(bundle: Bundle): { fraction: number; salt: string } {
    const d = bundle.manifest.decision;
    return { fraction: this.options.overrides?.holdout ?? d.holdout, salt: this.options.overrides?.holdoutSalt ?? d.holdout_salt };
  }

  /** The answer; for a holdout customer without the pick it would have had (`wouldChoose`, only logged). */
  private respond(bundle: Bundle, s: Scored, wouldChoose: Alternative | null, elapsed: number): PredictResponse {
    const policy = s.settings.policy;
    const chosen = s.holdout ? null : wouldChoose;
    const showAlternatives = s.includeAlternatives ?? s.decision.open;
    const alternatives = showAlternatives
      ? s.decision.candidates.filter((c) => c !== chosen).sort((a, b) => score(b, policy) - score(a, policy))
      : [];
    return {
      prediction_id: s.id,
      customer_id: s.request.customer_id,
      model_version: bundle.version,
      churn_probability: s.probability,
      risk_level: s.decision.riskLevel,
      recommended_intervention: chosen?.intervention ?? null,
      predicted_churn_reduction: chosen?.churn_reduction ?? null,
      confidence_interval: chosen ? [chosen.ci_lower, chosen.ci_upper] : null,
      should_intervene: chosen !== null,
      holdout: s.holdout,
      cost: chosen?.cost ?? null,
      expected_value: chosen?.expected_value ?? null,
      alternatives,
      imputed_features: s.resolved.imputed,
      unknown_categories: s.resolved.unknown,
      latency_ms: elapsed,
    };
  }

  /** After answering: every observer (whose failures never fail a request); dry runs are not delivered. */
  private deliver(bundle: Bundle, scored: Scored[], responses: PredictResponse[], chosen: (Alternative | null)[], operation: PredictionRecord["operation"]): void {
    const records: PredictionRecord[] = [];
    responses.forEach((r, i) => {
      const s = scored[i];
      if (s.dryRun) return;
      // A holdout customer's record keeps the recommendation it would have had.
      const pick = chosen[i];
      records.push({
        prediction_id: r.prediction_id,
        at: s.at,
        operation,
        customer_id: r.customer_id,
        model_version: bundle.version,
        inputs: s.resolved.values,
        imputed_features: s.resolved.imputed,
        churn_probability: r.churn_probability,
        effects: s.effects,
        recommended_intervention: pick?.intervention ?? null,
        should_intervene: r.should_intervene,
        holdout: s.holdout,
        predicted_churn_reduction: pick?.churn_reduction ?? null,
        cost: pick?.cost ?? null,
        expected_value: pick?.expected_value ?? null,
        customer_value: s.decision.customerValue,
        latency_ms: r.latency_ms,
      });
    });
    if (records.length === 0) return;
    for (const o of this.observers) {
      try {
        o.onPredictions(records);
      } catch (err) {
        console.error(`prediction observer failed: ${(err as Error).message}`);
      }
    }
  }
}

type ScoredInput = Pick<Scored, "request" | "resolved" | "settings" | "confidence" | "includeAlternatives" | "dryRun">;
