// The workflow outbox against a real local webhook: idempotency key, retries with backoff on
// errors and timeouts, at-least-once across a restart, dead letters, "recorded" without a URL.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Outbox } from "../server/store/outbox.ts";
import type { PredictionRecord } from "../server/contract/records.ts";

interface Hook {
  url: string;
  calls: { key: string | undefined; body: { prediction_id: string; intervention: string } }[];
  server: Server;
}

/** A webhook that answers with `respond(callIndex)`: a status, or "hang". */
async function webhook(respond: (n: number) => number | "hang"): Promise<Hook> {
  const calls: Hook["calls"] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    let body = "";
    for await (const c of req) body += c;
    const n = calls.length;
    calls.push({ key: req.headers["idempotency-key"] as string | undefined, body: JSON.parse(body) });
    const r = respond(n);
    if (r === "hang") return;
    res.writeHead(r).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, calls, server };
}

const cleanup: (() => void)[] = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));
function tempDir() {
  const d = mkdtempSync(join(tmpdir(), "outbox-"));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function rec(id: string, intervene = true): PredictionRecord {
  return {
    prediction_id: id, at: Date.now(), operation: "predict", customer_id: `c-${id}`, model_version: "m", inputs: {}, imputed_features: [],
    churn_probability: 0.6, effects: null, recommended_intervention: intervene ? "retention_call" : null, should_intervene: intervene,
    predicted_churn_reduction: 0.1, cost: 12, expected_value: 50, latency_ms: 1,
  };
}

async function until(check: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("workflow outbox", () => {
  it("delivers each recommendation once, with its prediction id as idempotency key", async () => {
    const hook = await webhook(() => 200);
    cleanup.push(() => hook.server.close());
    const outbox = await Outbox.open(tempDir(), { url: hook.url });
    outbox.onPredictions([rec("a"), rec("b", false), rec("c")]);
    await until(() => outbox.status().delivered === 2);
    expect(hook.calls.map((c) => c.key).sort()).toEqual(["a", "c"]);
    expect(hook.calls[0].body).toMatchObject({ intervention: "retention_call" });
    expect(outbox.status()).toMatchObject({ pending: 0, delivered: 2, dead: 0 });
    await outbox.close();
  });

  it("retries on 500 and on timeouts with backoff, then delivers", async () => {
    const hook = await webhook((n) => (n === 0 ? 500 : n === 1 ? "hang" : 200));
    cleanup.push(() => hook.server.close());
    const outbox = await Outbox.open(tempDir(), { url: hook.url, baseDelayMs: 20, timeoutMs: 200 });
    outbox.onPredictions([rec("x")]);
    await until(() => outbox.status().delivered === 1);
    expect(hook.calls.map((c) => c.key)).toEqual(["x", "x", "x"]);
    await outbox.close();
  });

  it("dead-letters after the last attempt", async () => {
    const hook = await webhook(() => 503);
    cleanup.push(() => hook.server.close());
    const outbox = await Outbox.open(tempDir(), { url: hook.url, baseDelayMs: 5, maxAttempts: 3 });
    outbox.onPredictions([rec("d")]);
    await until(() => outbox.status().dead === 1);
    expect(hook.calls).toHaveLength(3);
    await outbox.close();
  });

  it("without a URL, counts what it records and holds none of it in memory", async () => {
    const dir = tempDir();
    const outbox = await Outbox.open(dir);
    for (let i = 0; i < 50; i++) outbox.onPredictions(Array.from({ length: 100 }, (_, k) => rec(`m${i}-${k}`)));
    await outbox.flushed();
    expect(outbox.status()).toMatchObject({ url: null, recorded: 5000, pending: 0 });
    // A busy server recording every recommendation must not grow its heap with them.
    expect((outbox as unknown as { items: Map<string, unknown> }).items.size).toBe(0);
    await outbox.close();
    const again = await Outbox.open(dir);
    expect(again.status().recorded).toBe(5000);
    await again.close();
  });

  it("survives a restart: undelivered entries are delivered by the next process", async () => {
    const dir = tempDir();
    const first = await Outbox.open(dir);
    first.onPredictions([rec("r1"), rec("r2")]);
    await first.flushed();
    expect(first.status()).toMatchObject({ url: null, recorded: 2, pending: 0 });
    await first.close();
    const hook = await webhook(() => 200);
    cleanup.push(() => hook.server.close());
    const second = await Outbox.open(dir, { url: hook.url });
    await until(() => second.status().delivered === 2);
    await second.close();
    const third = await Outbox.open(dir, { url: hook.url });
    await new Promise((r) => setTimeout(r, 100));
    expect(hook.calls).toHaveLength(2);
    expect(third.status()).toMatchObject({ pending: 0 });
    await third.close();
  });
});
