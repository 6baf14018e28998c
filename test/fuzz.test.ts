// A seeded fuzz of every input the service takes, bounded in count and time: mutated requests over
// REST, tRPC over HTTP and tRPC over WebSocket. Whatever arrives, no 5xx, no dropped connection
// on well-formed HTTP, and the server still answers correctly afterwards.
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { WebSocket } from "ws";
import type { RunningServer } from "../server/http/server.ts";
import { SEED_REQUEST, testServer } from "./helpers/server.ts";

let server: RunningServer;
beforeAll(async () => {
  server = await testServer();
});
afterAll(async () => {
  await server.close();
});

const SEEDS: Record<string, unknown> = {
  "/predict": SEED_REQUEST,
  "/batch-predict": { customers: [SEED_REQUEST, { ...SEED_REQUEST, customer_id: "B" }], budget: 30, options: { policy: "max_value" } },
  "/outcomes": { outcomes: [{ customer_id: "CUST-001", churned: true }] },
  "/events": { events: [{ event_id: "e1", customer_id: "F1", type: "billing", at: "2026-11-01T00:00:00Z", amount: 3 }] },
  "/plan-budget": { budget: 10, customers: [[{ intervention: "email_nudge", churn_reduction: 0.1, ci_lower: 0.01, cost: 0.5, expected_value: 3, eligible: true }]] },
  "/customers/import": { rows: [{ customer_id: "I1", tenure: 3 }] },
};
const TRPC: Record<string, string> = { "/predict": "predict", "/batch-predict": "batchPredict", "/outcomes": "recordOutcome", "/events": "events.ingest", "/plan-budget": "planBudget", "/customers/import": "customers.import" };

/** Odd values a client may send in place of anything. */
const odd = fc.oneof(
  fc.constantFrom(null, true, false, 0, -0, -1, 1e308, -1e308, 5e-324, 1e-17, 0.9999999999999999, "", "NaN", "Infinity", "__proto__", "constructor", "\u0000", "Month-to-month", [], {}, [[]], { __proto__: 1 }),
  fc.double(),
  fc.integer(),
  fc.string({ maxLength: 40 }),
  fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 5 }),
  fc.anything({ maxDepth: 3 }),
);

/** A seed request with one path replaced, deleted, or given a new key; deep by a few levels. */
function mutate(value: unknown, depth: number): fc.Arbitrary<unknown> {
  if (depth === 0 || typeof value !== "object" || value === null) return fc.oneof(fc.constant(value), odd);
  const keys = Object.keys(value);
  return fc.oneof(
    odd,
    fc.constantFrom(...keys).chain((k) => mutate((value as Record<string, unknown>)[k], depth - 1).map((v) => (Array.isArray(value) ? Object.assign([...value], { [k]: v }) : { ...value, [k]: v }))),
    fc.constantFrom(...keys).map((k) => {
      const copy: Record<string, unknown> = Array.isArray(value) ? [...value] as unknown as Record<string, unknown> : { ...value };
      delete copy[k];
      return copy;
    }),
    fc.tuple(fc.string({ maxLength: 12 }), odd).map(([k, v]) => ({ ...(value as object), [k]: v })),
  );
}

const body = fc.constantFrom(...Object.keys(SEEDS)).chain((route) =>
  fc.record({ route: fc.constant(route), payload: mutate(SEEDS[route], 4), raw: fc.option(fc.string({ maxLength: 60 }), { freq: 8 }) }),
);

it("answers every mutated request over REST, tRPC and WebSocket without a 5xx, and correctly afterwards", async () => {
  const deadline = Date.now() + 25_000;
  const statuses = new Map<number, number>();
  const ws = new WebSocket(`${server.url.replace("http", "ws")}/trpc`);
  await new Promise((r) => ws.once("open", r));
  const wsErrors: unknown[] = [];
  ws.on("message", (m) => {
    const msg = JSON.parse(String(m));
    if (msg.error && msg.error.data?.httpStatus >= 500) wsErrors.push(msg.error);
  });
  let id = 0;
  await fc.assert(
    fc.asyncProperty(body, fc.constantFrom("rest", "trpc", "ws"), async ({ route, payload, raw }, transport) => {
      if (Date.now() > deadline) return;
      const text = raw ?? JSON.stringify(payload) ?? "null";
      if (transport === "ws") {
        ws.send(raw ?? JSON.stringify({ id: ++id, method: "mutation", params: { path: TRPC[route], input: payload } }));
        return;
      }
      const url = transport === "rest" ? `${server.url}${route}` : `${server.url}/trpc/${TRPC[route]}`;
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: text });
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(res.status, `${transport} ${route} ${text.slice(0, 300)}`).toBeLessThan(500);
    }),
    { seed: 20261129, numRuns: 1500, interruptAfterTimeLimit: 30_000 },
  );
  // Let the WebSocket's answers arrive, then the server must still be right.
  await new Promise((r) => setTimeout(r, 500));
  ws.close();
  expect(wsErrors).toEqual([]);
  expect([...statuses.keys()].every((s) => s < 500)).toBe(true);
  expect(statuses.get(400)).toBeGreaterThan(100);
  const after = await fetch(`${server.url}/predict`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...SEED_REQUEST, customer_id: "after-fuzz", options: { dry_run: true } }) });
  expect(after.status).toBe(200);
  expect(Math.abs((await after.json()).churn_probability - 0.3919228195598988)).toBeLessThan(1e-12);
}, 60_000);
