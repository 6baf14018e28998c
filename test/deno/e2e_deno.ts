// The end-to-end checks under Deno: the same server code started by Deno, called over HTTP and
// WebSocket with the typed client (Deno has a global WebSocket). Run by test/deno.test.ts.
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../server/config.ts";
import { startServer } from "../../server/http/server.ts";
import { createChurnClient, type PredictRequest } from "../../client/index.ts";

declare const Deno: { test(name: string, fn: () => Promise<void>): void; version: { deno: string }; env: { get(name: string): string | undefined } };

const SEED = { customer_id: "CUST-001", tenure: 12, monthly_charges: 70.5, contract_type: "Month-to-month", internet_service: "Fiber optic" } satisfies PredictRequest;

/**
 * Each step is bounded and noted in the file E2E_STEPS names (test/deno.test.ts reads it), so a
 * step that never finishes is named rather than lost when the run is stopped from outside.
 */
async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const file = Deno.env.get("E2E_STEPS");
  if (file) appendFileSync(file, `${name}\n`);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`step "${name}" did not finish in 20 s`)), 20_000)));
  try {
    return await Promise.race([fn(), late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("the service runs under Deno: REST, tRPC, WebSocket", async () => {
  const server = await step("start", () => startServer(loadConfig(["--port", "0", "--data-dir", mkdtempSync(join(tmpdir(), "deno-e2e-"))], {})));
  const client = createChurnClient(server.url);
  try {
    const health = await step("health", () => client.health.query());
    assert.equal(health.ready, true);
    assert.match(health.runtime, /^deno /);

    const res = await step("REST predict", () => fetch(`${server.url}/predict`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(SEED) }));
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.recommended_intervention, "discount_199");
    assert.equal(body.risk_level, "MEDIUM");
    assert.ok(Math.abs(body.churn_probability - 0.3919228195598988) < 1e-12);

    const viaClient = await step("tRPC predict", () => client.predict.mutate({ ...SEED, customer_id: "deno-client" }));
    assert.equal(viaClient.churn_probability, body.churn_probability);

    const bad = await step("REST bad request", () => fetch(`${server.url}/predict`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ customer_id: "x", tenure: -1, bogus: 1 }) }));
    assert.equal(bad.status, 400);
    const issues = (await bad.json()).error.issues.map((i: { path: string[] }) => i.path.join("."));
    assert.deepEqual(issues.sort(), ["bogus", "tenure"]);

    const batch = await step("tRPC batch", () => client.batchPredict.mutate({ customers: [{ customer_id: "a", tenure: 3 }, { customer_id: "b", tenure: 60, contract_type: "Two year" }], budget: 20 }));
    assert.equal(batch.results.length, 2);
    assert.ok(batch.summary.total_cost <= 20);

    const doc = await step("OpenAPI", async () => (await fetch(`${server.url}/openapi.json`)).json());
    assert.deepEqual(Object.keys(doc.paths).sort(), ["/batch-predict", "/customers/import", "/customers/{customer_id}", "/events", "/health", "/outcomes", "/plan-budget", "/predict"]);
    const nowhere = await step("404", () => fetch(`${server.url}/nowhere`));
    await nowhere.body?.cancel();
    assert.equal(nowhere.status, 404);

    const snapshot = await step("WebSocket subscription", () => new Promise<{ requests_total: number }>((resolve, reject) => {
      const sub = client.monitoring.metrics.subscribe({ interval_ms: 100 }, {
        onData: (s) => {
          sub.unsubscribe();
          resolve(s);
        },
        onError: reject,
      });
    }));
    assert.ok(snapshot.requests_total >= 3);
    assert.match(await step("metrics", async () => (await fetch(`${server.url}/metrics`)).text()), /churn_request_duration_seconds_bucket\{le="0.2"/);
  } finally {
    client.close();
    await step("close", () => server.close());
  }
});
