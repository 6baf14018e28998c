// Holdout (DESIGN section 10): deterministic assignment by a salted hash of customer_id, the same
// in every process; held-out customers get no intervention, start no cooldown and no workflow
// entry, and cost a budget nothing; their would-be recommendation is logged; a restart rebuilds
// the realized-uplift window from the log. Also the value gate, per request and in the manifest.
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BatchPredictResponse, PredictResponse } from "../server/contract/api.ts";
import type { PredictionRecord } from "../server/contract/records.ts";
import { holdoutPoint, inHoldout } from "../server/decision/holdout.ts";
import type { RunningServer } from "../server/http/server.ts";
import { Recommender } from "../server/service/recommender.ts";
import { readCsvRecords } from "./helpers/customers.ts";
import { post, testServer } from "./helpers/server.ts";

const customers = readCsvRecords(2000);

describe("holdout assignment", () => {
  it("is a fixed point per customer and salt, uniform, and nested as the fraction grows", () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => `C-${i}`);
    expect(holdoutPoint("C-1", "s")).toBe(holdoutPoint("C-1", "s"));
    // The first 48 bits of SHA-256("s\0C-1") over 2^48 (Python's hashlib agrees): a change of hash shows here first.
    expect(holdoutPoint("C-1", "s")).toBe(0.436190917949304);
    const share = ids.filter((id) => inHoldout(id, 0.1, "s")).length / ids.length;
    expect(Math.abs(share - 0.1)).toBeLessThan(0.01);
    for (const id of ids.slice(0, 2000)) if (inHoldout(id, 0.05, "s")) expect(inHoldout(id, 0.1, "s")).toBe(true);
    const other = ids.filter((id) => inHoldout(id, 0.1, "t"));
    const same = other.filter((id) => inHoldout(id, 0.1, "s")).length / other.length;
    expect(same).toBeLessThan(0.2);
    expect(ids.some((id) => inHoldout(id, 0, "s"))).toBe(false);
  });
});

const segmentRecords = (dataDir: string): PredictionRecord[] => {
  const dir = join(dataDir, "log");
  return readdirSync(dir).filter((n) => n.endsWith(".jsonl")).sort().flatMap((n) =>
    readFileSync(join(dir, n), "utf8").split("\n").filter((l) => l.startsWith('{"t":"p"')).map((l) => JSON.parse(l) as PredictionRecord),
  );
};

describe("a service with 30% holdout", () => {
  let server: RunningServer;
  let dataDir: string;
  let batch: BatchPredictResponse;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "holdout-"));
    server = await testServer(["--holdout", "0.3", "--holdout-salt", "test-salt", "--data-dir", dataDir]);
    batch = (await post(`${server.url}/batch-predict`, { customers })).body;
  });
  afterAll(() => server.close());

  it("holds out about 30% of the customers through the gate, by the salted hash, and only them", () => {
    const gated = batch.results.filter((r) => r.churn_probability > 0.3);
    const held = batch.results.filter((r) => r.holdout);
    expect(held.every((r) => r.churn_probability > 0.3)).toBe(true);
    expect(Math.abs(held.length / gated.length - 0.3)).toBeLessThan(0.05);
    for (const r of gated) expect(r.holdout).toBe(inHoldout(r.customer_id, 0.3, "test-salt"));
    for (const r of held) expect(r).toMatchObject({ should_intervene: false, recommended_intervention: null, predicted_churn_reduction: null, cost: null, expected_value: null });
  });

  it("logs the recommendation a held-out customer would have had, marked holdout", async () => {
    await server.app.log.flushed();
    const records = new Map(segmentRecords(dataDir).map((r) => [r.prediction_id, r]));
    const held = batch.results.filter((r) => r.holdout).map((r) => records.get(r.prediction_id)!);
    expect(held.length).toBeGreaterThan(100);
    for (const r of held) expect(r).toMatchObject({ holdout: true, should_intervene: false });
    const wouldBe = held.filter((r) => r.recommended_intervention !== null);
    expect(wouldBe.length).toBeGreaterThan(0.8 * held.length);
    for (const r of wouldBe) expect(r.predicted_churn_reduction! * r.customer_value! - r.cost!).toBeCloseTo(r.expected_value!, 6);
    const treated = batch.results.filter((r) => r.should_intervene).map((r) => records.get(r.prediction_id)!);
    for (const r of treated) expect(r).toMatchObject({ holdout: false, should_intervene: true });
  });

  it("starts no workflow entry and no cooldown for a held-out customer", async () => {
    const treated = batch.results.filter((r) => r.should_intervene).length;
    await server.app.log.flushed();
    const s = server.app.outbox.status();
    expect(s.pending + s.recorded + s.delivered + s.dead).toBe(treated);
    expect(server.app.monitor.snapshot().interventions.count).toBe(treated);
    const heldIds = batch.results.filter((r) => r.holdout && r.churn_probability > 0.5).slice(0, 20).map((r) => r.customer_id);
    const again = (await post(`${server.url}/batch-predict`, { customers: customers.filter((c) => heldIds.includes(c.customer_id)), options: { include_alternatives: true } })).body as BatchPredictResponse;
    for (const r of again.results) {
      expect(r.holdout).toBe(true);
      for (const a of r.alternatives) expect(a.reason ?? "").not.toMatch(/cooldown/);
    }
  });

  it("rebuilds realized uplift from the log after a restart", async () => {
    const outcomes = batch.results.map((r, i) => ({ prediction_id: r.prediction_id, churned: i % 3 === 0 }));
    expect((await post(`${server.url}/outcomes`, { outcomes })).status).toBe(200);
    const before = server.app.monitor.snapshot().uplift;
    expect(before.holdout_fraction).toBe(0.3);
    expect(before.labelled_holdout).toBeGreaterThan(100);
    expect(before.labelled_treated).toBe(batch.results.filter((r) => r.should_intervene).length);
    await server.close();
    server = await testServer(["--holdout", "0.3", "--holdout-salt", "test-salt", "--data-dir", dataDir]);
    const after = server.app.monitor.snapshot().uplift;
    expect(after.overall).toEqual(before.overall);
    expect(after.by_intervention).toEqual(before.by_intervention);
  });
});

describe("budgets and holdout", () => {
  let held: RunningServer;
  let open: RunningServer;
  beforeAll(async () => {
    [held, open] = await Promise.all([testServer(["--holdout", "0.3"]), testServer()]);
  });
  afterAll(() => Promise.all([held.close(), open.close()]));

  it("spends nothing on held-out customers, and picks the others as with no holdout", async () => {
    const budget = 3000;
    const a = (await post(`${held.url}/batch-predict`, { customers, budget })).body as BatchPredictResponse;
    const b = (await post(`${open.url}/batch-predict`, { customers, budget })).body as BatchPredictResponse;
    const spent = a.results.reduce((s, r) => s + (r.cost ?? 0), 0);
    expect(a.summary.total_cost).toBeCloseTo(spent, 6);
    expect(a.summary.total_cost).toBeLessThanOrEqual(budget);
    expect(a.summary.intervene).toBe(a.results.filter((r) => r.should_intervene).length);
    const heldOut = a.results.filter((r) => r.holdout);
    expect(heldOut.length).toBeGreaterThan(100);
    for (const r of heldOut) expect(r.cost).toBeNull();
    // Held-out customers take part in the allocation and their picks are withheld: the others get what they would have.
    a.results.forEach((r, i) => {
      if (!r.holdout) expect(r.recommended_intervention).toBe(b.results[i].recommended_intervention);
    });
    // What the held-out picks would have cost is what the holdout saves.
    const withheld = b.results.filter((_, i) => a.results[i].holdout).reduce((s, r) => s + (r.cost ?? 0), 0);
    expect(a.summary.total_cost + withheld).toBeCloseTo(b.summary.total_cost, 6);
  });

  it("holds no one out of a dry run, which acts on no one", async () => {
    const r = (await post(`${held.url}/batch-predict`, { customers: customers.slice(0, 300), options: { dry_run: true } })).body as BatchPredictResponse;
    expect(r.results.some((x) => x.holdout)).toBe(false);
  });
});

describe("the value gate", () => {
  it("is selectable per request and in the manifest; the risk gate stays the default", async () => {
    const models = mkdtempSync(join(tmpdir(), "value-gate-"));
    cpSync("models", models, { recursive: true });
    // A service each: the first call's recommendations would put the second's in cooldown.
    const scored = async (modelsDir: string, options?: { gate: "value" }) => {
      const service = await Recommender.open({ modelsDir });
      const r = await service.batchPredict({ customers: low, options });
      service.close();
      return r;
    };
    const low = customers.slice(0, 400);
    const risk = await scored("models");
    const value = await scored("models", { gate: "value" });
    expect(risk.results.filter((r) => r.should_intervene).every((r) => r.churn_probability > 0.3)).toBe(true);
    const below = value.results.filter((r) => r.should_intervene && r.churn_probability <= 0.3);
    expect(below.length).toBeGreaterThan(10);
    for (const r of value.results.filter((x) => x.should_intervene)) expect(r.expected_value!).toBeGreaterThan(0);
    const manifest = JSON.parse(readFileSync(join(models, "manifest.json"), "utf8"));
    writeFileSync(join(models, "manifest.json"), JSON.stringify({ ...manifest, decision: { ...manifest.decision, gate: "value" } }));
    const m = await scored(models);
    expect(m.results.map((r) => r.recommended_intervention)).toEqual(value.results.map((r) => r.recommended_intervention));
  });
});

describe("two server processes", () => {
  const children: ChildProcess[] = [];
  afterAll(() => children.forEach((c) => c.kill("SIGTERM")));

  async function serve(): Promise<string> {
    const child = spawn(process.execPath, ["dist/cli/main.js", "serve", "--port", "0", "--data-dir", mkdtempSync(join(tmpdir(), "holdout-proc-"))], {
      env: { ...process.env, HOLDOUT: "0.25", HOLDOUT_SALT: "fleet", LOG_LEVEL: "off" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (d) => {
        out += d;
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
    });
  }

  it("assign every customer to the same side", async () => {
    const [a, b] = await Promise.all([serve(), serve()]);
    const body = { customers: customers.slice(0, 1000) };
    const [ra, rb] = await Promise.all([post(`${a}/batch-predict`, body), post(`${b}/batch-predict`, body)]);
    const flags = (r: { body: BatchPredictResponse }) => r.body.results.map((x: PredictResponse) => x.holdout);
    expect(flags(ra)).toEqual(flags(rb));
    expect(flags(ra).filter(Boolean).length).toBeGreaterThan(50);
  }, 60_000);
});
