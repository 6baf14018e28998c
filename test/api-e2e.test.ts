// End to end: the real server on a loopback port, the typed client imported as a user would,
// and plain fetch against the REST routes.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { createChurnClient, type ChurnClient } from "churn-intervention/client";
import { PredictionIds } from "../server/contract/ids.ts";
import { Recommender } from "../server/service/recommender.ts";
import { readCsvRecords } from "./helpers/customers.ts";
import { post, SEED_REQUEST, testServer } from "./helpers/server.ts";
import { createApp } from "../server/app.ts";
import { loadConfig } from "../server/config.ts";
import { startServer, type RunningServer } from "../server/http/server.ts";

let server: RunningServer;
let client: ChurnClient;

beforeAll(async () => {
  server = await testServer(["--max-batch", "50", "--max-body-bytes", "200000"]);
  client = createChurnClient(server.url, { WebSocket });
});

afterAll(async () => {
  client.close();
  await server.close();
});

const issuesOf = (body: { error: { issues: { path: (string | number)[] }[] } }) => body.error.issues.map((i) => i.path.join("."));

describe("the seed example", () => {
  it("works as-is over REST with the documented shape", async () => {
    const { status, body } = await post(`${server.url}/predict`, SEED_REQUEST);
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(
      [
        "prediction_id", "customer_id", "model_version", "churn_probability", "risk_level", "recommended_intervention",
        "predicted_churn_reduction", "confidence_interval", "should_intervene", "holdout", "cost", "expected_value", "alternatives",
        "imputed_features", "unknown_categories", "latency_ms",
      ].sort(),
    );
    expect(body.customer_id).toBe("CUST-001");
    expect(body.risk_level).toBe("MEDIUM");
    expect(body.should_intervene).toBe(true);
    expect(body.holdout).toBe(false);
    expect(body.confidence_interval[0]).toBeLessThan(body.predicted_churn_reduction);
    expect(body.imputed_features).toContain("total_charges");
    for (const alt of body.alternatives) {
      expect(Object.keys(alt).sort()).toEqual(["ci_lower", "ci_upper", "cost", "churn_reduction", "eligible", "expected_value", "intervention", "reason"].sort());
    }
  });

  it("gives the same answer through the typed client", async () => {
    // Fresh customer ids: a recommendation starts the intervention's cooldown for its customer.
    const viaClient = await client.predict.mutate({ ...SEED_REQUEST, customer_id: "seed-client" });
    const { body } = await post(`${server.url}/predict`, { ...SEED_REQUEST, customer_id: "seed-rest" });
    const strip = ({ prediction_id: _a, latency_ms: _b, customer_id: _c, ...rest }: { prediction_id: string; latency_ms: number; customer_id: string }) => rest;
    expect(strip(viaClient)).toEqual(strip(body));
  });
});

describe("responses equal the in-process service", () => {
  it("for the first 100 test customers", async () => {
    const local = await Recommender.open({ modelsDir: "models" });
    const customers = readCsvRecords(100);
    for (const c of customers.slice(0, 100)) {
      const [remote, inProcess] = await Promise.all([client.predict.mutate(c), local.predict(c)]);
      expect({ ...remote, prediction_id: "", latency_ms: 0 }).toEqual({ ...inProcess, prediction_id: "", latency_ms: 0 });
    }
    local.close();
  });
});

describe("cooldown", () => {
  it("a recommended intervention is not recommended again to the same customer within its cooldown", async () => {
    const first = await client.predict.mutate({ ...SEED_REQUEST, customer_id: "cooldown-1" });
    const second = await client.predict.mutate({ ...SEED_REQUEST, customer_id: "cooldown-1" });
    expect(first.recommended_intervention).toBe("discount_199");
    expect(second.recommended_intervention).not.toBe("discount_199");
    const excluded = second.alternatives.find((a) => a.intervention === "discount_199")!;
    expect(excluded.eligible).toBe(false);
    expect(excluded.reason).toMatch(/cooldown until/);
  });

  it("a dry run answers the same but records nothing: no log line, no workflow entry, no cooldown", async () => {
    const previous = await client.predict.mutate({ ...SEED_REQUEST, customer_id: "dry-0" });
    const before = { logged: server.app.log.appendedSeq, recorded: server.app.outbox.status().recorded };
    const dry = { ...SEED_REQUEST, customer_id: "dry-1", options: { dry_run: true } };
    const first = await client.predict.mutate(dry);
    const second = (await post(`${server.url}/batch-predict`, { customers: [dry] })).body.results[0];
    expect(first.recommended_intervention).toBe("discount_199");
    expect(second.recommended_intervention).toBe("discount_199");
    expect(server.app.log.appendedSeq).toBe(before.logged);
    expect(server.app.outbox.status().recorded).toBe(before.recorded);
    // The first real prediction is the one that acts.
    const real = await client.predict.mutate({ ...SEED_REQUEST, customer_id: "dry-1" });
    expect(real.recommended_intervention).toBe("discount_199");
    expect(server.app.log.appendedSeq).toBe(before.logged + 1);
    expect(server.app.outbox.status().recorded).toBe(before.recorded + 1);
    // Dry runs take no number of the logged sequence, which the log indexes by position.
    expect(PredictionIds.parse(real.prediction_id)).toEqual({ ...PredictionIds.parse(previous.prediction_id), seq: PredictionIds.parse(previous.prediction_id)!.seq + 1 });
    expect(PredictionIds.parse(first.prediction_id)!.instance).not.toBe(PredictionIds.parse(real.prediction_id)!.instance);
  });

  it("a customer's own options override the batch's, the rest of the batch's still apply", async () => {
    const batchOptions = { dry_run: true, policy: "max_value" as const, include_alternatives: true };
    const a = { ...SEED_REQUEST, customer_id: "merge-a" };
    const b = { ...SEED_REQUEST, customer_id: "merge-b", options: { threshold: 0.99 } };
    const { results } = await client.batchPredict.mutate({ customers: [a, b], options: batchOptions });
    const alone = await Promise.all([
      client.predict.mutate({ ...a, options: batchOptions }),
      client.predict.mutate({ ...b, options: { ...batchOptions, threshold: 0.99 } }),
    ]);
    const strip = ({ prediction_id: _, latency_ms: __, ...rest }: { prediction_id: string; latency_ms: number }) => rest;
    expect(results.map(strip)).toEqual(alone.map(strip));
    expect(results[0].should_intervene).toBe(true);
    expect(results[1].should_intervene).toBe(false);
    expect(results[1].alternatives.length).toBeGreaterThan(0);
  });

  it("holds with monitoring off too (no log observer), and across a restart on the same data", async () => {
    const quiet = await testServer(["--monitoring", "off"]);
    try {
      const first = await post(`${quiet.url}/predict`, { ...SEED_REQUEST, customer_id: "cooldown-2" });
      const second = await post(`${quiet.url}/predict`, { ...SEED_REQUEST, customer_id: "cooldown-2" });
      expect(first.body.recommended_intervention).toBe("discount_199");
      expect(second.body.recommended_intervention).not.toBe("discount_199");
    } finally {
      await quiet.close();
    }
    const dataDir = mkdtempSync(join(tmpdir(), "cooldown-"));
    const before = await testServer(["--data-dir", dataDir]);
    expect((await post(`${before.url}/predict`, { ...SEED_REQUEST, customer_id: "cooldown-3" })).body.recommended_intervention).toBe("discount_199");
    await before.close();
    const after = await testServer(["--data-dir", dataDir]);
    try {
      const again = await post(`${after.url}/predict`, { ...SEED_REQUEST, customer_id: "cooldown-3" });
      expect(again.body.alternatives.find((a: { intervention: string }) => a.intervention === "discount_199").reason).toMatch(/cooldown until/);
    } finally {
      await after.close();
    }
  });
});

describe("bad input", () => {
  it("lists every feature problem by field path (400)", async () => {
    const { status, body } = await post(`${server.url}/predict`, {
      customer_id: "c1", tenure: -1, monthly_charges: "a lot", contract_type: "Weekly", senior_citizen: 2, bogus: 1,
    });
    expect(status).toBe(400);
    expect(issuesOf(body).sort()).toEqual(["bogus", "contract_type", "monthly_charges", "senior_citizen", "tenure"]);
    expect(JSON.stringify(body)).toContain("Month-to-month");
    expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+/);
  });

  it("refuses a missing customer_id and bad options", async () => {
    const { status, body } = await post(`${server.url}/predict`, { tenure: 3, options: { policy: "cheapest", threshold: 2, extra: 1 } });
    expect(status).toBe(400);
    expect(issuesOf(body).sort()).toEqual(["customer_id", "options", "options.policy", "options.threshold"]);
  });

  it("maps client mistakes to the right status", async () => {
    expect((await post(`${server.url}/predict`, "{not json")).status).toBe(400);
    expect((await post(`${server.url}/predict`, SEED_REQUEST, { "content-type": "text/plain" })).status).toBe(415);
    const huge = { customer_id: "x", pad: "y".repeat(300_000) };
    expect((await post(`${server.url}/predict`, huge)).status).toBe(413);
    const tooMany = { customers: Array.from({ length: 51 }, (_, i) => ({ customer_id: `c${i}` })) };
    const batch = await post(`${server.url}/batch-predict`, tooMany);
    expect(batch.status).toBe(413);
    expect(batch.body.error.message).toMatch(/at most 50/);
    expect((await fetch(`${server.url}/nowhere`)).status).toBe(404);
    const wrong = await fetch(`${server.url}/predict`, { method: "GET" });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("POST");
  });

  it("reports batch problems with the customer's index", async () => {
    const { status, body } = await post(`${server.url}/batch-predict`, { customers: [{ customer_id: "a" }, { customer_id: "b", tenure: 1.5 }] });
    expect(status).toBe(400);
    // "a" carries no field and the service knows nothing of it: not scored on imputed values alone.
    expect(issuesOf(body)).toEqual(["customers.0.customer_id", "customers.1.tenure"]);
  });

  it("is BAD_REQUEST with issues through tRPC", async () => {
    await expect(client.predict.mutate({ customer_id: "x", tenure: -5 })).rejects.toMatchObject({
      data: { code: "BAD_REQUEST", issues: [{ path: ["tenure"] }] },
    });
  });
});

describe("batch", () => {
  it("keeps order, and a budget caps the total cost", async () => {
    const customers = readCsvRecords(40);
    const free = await client.batchPredict.mutate({ customers });
    expect(free.results.map((r) => r.customer_id)).toEqual(customers.map((c) => c.customer_id));
    expect(free.summary.count).toBe(40);
    const budget = free.summary.total_cost / 2;
    const capped = await client.batchPredict.mutate({ customers, budget });
    expect(capped.summary.total_cost).toBeLessThanOrEqual(budget + 1e-9);
    expect(capped.summary.intervene).toBeGreaterThan(0);
    const sum = capped.results.reduce((s, r) => s + (r.cost ?? 0), 0);
    expect(sum).toBeCloseTo(capped.summary.total_cost, 9);
  });
});

describe("health and documents", () => {
  it("reports liveness and readiness separately", async () => {
    const h = await client.health.query();
    expect(h).toMatchObject({ live: true, ready: true, status: "ok", model_version: "churn-default@2026.11.0" });
    expect((await fetch(`${server.url}/health/live`)).status).toBe(200);
    expect((await fetch(`${server.url}/health/ready`)).status).toBe(200);
  });

  it("listens before the bundle has loaded: live, not ready (503), the rest 503 until it is", async () => {
    const config = loadConfig(["--port", "0", "--host", "127.0.0.1", "--data-dir", mkdtempSync(join(tmpdir(), "churn-starting-"))], { REPLICA_ID: "replica-b" });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let url = "";
    const starting = startServer(config, gate.then(() => createApp(config)), (u) => (url = u));
    await new Promise((r) => setTimeout(r, 50));
    expect(url).not.toBe("");
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
    expect((await fetch(`${url}/health/ready`)).status).toBe(503);
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: "starting", live: true, ready: false, model_version: null, replica: "replica-b" });
    const early = await post(`${url}/predict`, SEED_REQUEST);
    expect(early).toMatchObject({ status: 503, body: { error: { code: "UNAVAILABLE" } } });
    release();
    const running = await starting;
    try {
      expect((await fetch(`${url}/health/ready`)).status).toBe(200);
      expect(await (await fetch(`${url}/health`)).json()).toMatchObject({ replica: "replica-b" });
      expect((await post(`${url}/predict`, SEED_REQUEST)).status).toBe(200);
    } finally {
      await running.close();
    }
  });

  it("serves an OpenAPI 3.1 document of the REST operations", async () => {
    const doc = await (await fetch(`${server.url}/openapi.json`)).json();
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths).sort()).toEqual(["/batch-predict", "/customers/import", "/customers/{customer_id}", "/events", "/health", "/outcomes", "/plan-budget", "/predict"]);
    const refs = JSON.stringify(doc.paths).match(/#\/components\/schemas\/\w+/g)!;
    for (const ref of refs) expect(doc.components.schemas[ref.split("/").pop()!]).toBeTypeOf("object");
    expect(doc.components.schemas.PredictRequest.required).toContain("customer_id");
    expect(doc.components.schemas.PredictResponse.properties.confidence_interval).toBeDefined();
  });
});

describe("shutdown", () => {
  it("finishes an in-flight request before closing", async () => {
    const s = await testServer();
    const customers = readCsvRecords(2000);
    const inFlight = post(`${s.url}/batch-predict`, { customers: customers.slice(0, 2000) });
    await new Promise((r) => setTimeout(r, 20));
    const closed = s.close();
    const { status, body } = await inFlight;
    await closed;
    expect(status).toBe(200);
    expect(body.results).toHaveLength(2000);
    await expect(fetch(`${s.url}/health`)).rejects.toThrow();
  });
});

describe("client without a WebSocket", () => {
  it("queries over HTTP and fails subscriptions with a clear message (Node 20 has no global WebSocket)", async () => {
    const plain = createChurnClient(server.url);
    expect((await plain.health.query()).ready).toBe(true);
    const err = await new Promise((resolve) => plain.monitoring.metrics.subscribe({}, { onError: resolve }));
    expect(String(err)).toMatch(/subscriptions need a WebSocket/);
    plain.close();
  });
});
