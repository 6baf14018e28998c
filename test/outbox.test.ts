// The workflow outbox against a real local webhook: idempotency key, retries with backoff on
// errors and timeouts, at-least-once across a restart, dead letters, "recorded" without a URL;
// entries made in the log's commit (delivered after a kill), kept past log retention once a process
// with a URL took them on (recorded ones go with the log's retention), and
// delivered at the configured concurrency while some calls hang.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FileLog, type LogOptions } from "../server/store/log.ts";
import { Outbox, type OutboxOptions } from "../server/store/outbox.ts";
import type { PredictionRecord } from "../server/contract/records.ts";

interface Hook {
  url: string;
  calls: { key: string | undefined; body: { prediction_id: string; intervention: string } }[];
  server: Server;
  /** Calls being answered now, and the most at once. */
  open: number;
  maxOpen: number;
}

/** A webhook that answers with `respond(callIndex)`: a status, "hang" (nothing), or "hang-body" (headers, then nothing). */
async function webhook(respond: (n: number) => number | "hang" | "hang-body"): Promise<Hook> {
  const calls: Hook["calls"] = [];
  const hook = { calls, open: 0, maxOpen: 0 } as unknown as Hook;
  const server = createServer(async (req: IncomingMessage, res) => {
    let body = "";
    for await (const c of req) body += c;
    const n = calls.length;
    calls.push({ key: req.headers["idempotency-key"] as string | undefined, body: JSON.parse(body) });
    hook.open++;
    hook.maxOpen = Math.max(hook.maxOpen, hook.open);
    req.socket.once("close", () => hook.open--);
    const r = respond(n);
    if (r === "hang") return;
    if (r === "hang-body") return void res.writeHead(200, { "content-length": "10" }).write("{");
    res.writeHead(r, { connection: "close" }).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  hook.server = server;
  hook.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return hook;
}

const cleanup: (() => void)[] = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));
function tempDir() {
  const d = mkdtempSync(join(tmpdir(), "outbox-"));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** The log's segment files (beside them: its cooldown file). */
const segmentsOf = (dir: string) => readdirSync(join(dir, "log")).filter((name) => name.startsWith("segment-"));

/** The outbox and the log whose lines are its entries, opened as the app does. */
async function openWorkflow(dir: string, options: OutboxOptions = {}, logOptions: LogOptions = {}) {
  const outbox = await Outbox.open(join(dir, "outbox"), options);
  const log = await FileLog.open(join(dir, "log"), { ...logOptions, workflow: outbox });
  await outbox.start(log);
  const close = async () => {
    await log.close();
    await outbox.close();
  };
  return { outbox, log, close };
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
    const { outbox, log, close } = await openWorkflow(tempDir(), { url: hook.url });
    log.onPredictions([rec("a"), rec("b", false), rec("c")]);
    await until(() => outbox.status().delivered === 2);
    expect(hook.calls.map((c) => c.key).sort()).toEqual(["a", "c"]);
    expect(hook.calls[0].body).toMatchObject({ intervention: "retention_call" });
    expect(outbox.status()).toMatchObject({ pending: 0, delivered: 2, dead: 0 });
    await close();
  });

  it("retries on 500 and on timeouts with backoff, then delivers", async () => {
    const hook = await webhook((n) => (n === 0 ? 500 : n === 1 ? "hang" : n === 2 ? "hang-body" : 200));
    cleanup.push(() => hook.server.close());
    const { outbox, log, close } = await openWorkflow(tempDir(), { url: hook.url, baseDelayMs: 20, timeoutMs: 200 });
    log.onPredictions([rec("x")]);
    await until(() => outbox.status().delivered === 1);
    expect(hook.calls.map((c) => c.key)).toEqual(["x", "x", "x", "x"]);
    await close();
  });

  it("dead-letters after the last attempt", async () => {
    const hook = await webhook(() => 503);
    cleanup.push(() => hook.server.close());
    const { outbox, log, close } = await openWorkflow(tempDir(), { url: hook.url, baseDelayMs: 5, maxAttempts: 3 });
    log.onPredictions([rec("d")]);
    await until(() => outbox.status().dead === 1);
    expect(hook.calls).toHaveLength(3);
    await close();
  });

  it("without a URL, counts what it records and holds none of it in memory", async () => {
    const dir = tempDir();
    const { outbox, log, close } = await openWorkflow(dir);
    for (let i = 0; i < 50; i++) log.onPredictions(Array.from({ length: 100 }, (_, k) => rec(`m${i}-${k}`)));
    await log.flushed();
    expect(outbox.status()).toMatchObject({ url: null, recorded: 5000, pending: 0 });
    // A busy server recording every recommendation must not grow its heap with them.
    expect((outbox as unknown as { items: Map<string, unknown> }).items.size).toBe(0);
    await close();
    const again = await openWorkflow(dir);
    expect(again.outbox.status().recorded).toBe(5000);
    await again.close();
  });

  it("survives a restart: undelivered entries are delivered by the next process, delivered ones not again", async () => {
    const dir = tempDir();
    const first = await openWorkflow(dir);
    first.log.onPredictions([rec("r1"), rec("r2")]);
    await first.log.flushed();
    expect(first.outbox.status()).toMatchObject({ url: null, recorded: 2, pending: 0 });
    await first.close();
    const hook = await webhook(() => 200);
    cleanup.push(() => hook.server.close());
    const second = await openWorkflow(dir, { url: hook.url });
    await until(() => second.outbox.status().delivered === 2);
    await second.close();
    const third = await openWorkflow(dir, { url: hook.url });
    await new Promise((r) => setTimeout(r, 100));
    expect(hook.calls).toHaveLength(2);
    expect(third.outbox.status()).toMatchObject({ pending: 0 });
    await third.close();
  });

  it("an intervention is its prediction's log line: logged before a kill, it is delivered after it", async () => {
    const dir = tempDir();
    const first = await openWorkflow(dir);
    first.log.onPredictions([rec("k1"), rec("k2", false), rec("k3")]);
    await first.log.flushed();
    // Killed here: nothing closed, nothing more written by the outbox.
    const hook = await webhook(() => 200);
    cleanup.push(() => hook.server.close());
    const second = await openWorkflow(dir, { url: hook.url });
    await until(() => second.outbox.status().delivered === 2);
    expect(hook.calls.map((c) => c.key).sort()).toEqual(["k1", "k3"]);
    await second.close();
    await first.close();
  });

  it("is not posted before its log commit is durable", async () => {
    const hook = await webhook(() => 200);
    cleanup.push(() => hook.server.close());
    const { outbox, log, close } = await openWorkflow(tempDir(), { url: hook.url }, { commitIntervalMs: 300 });
    log.onPredictions([rec("slow")]);
    await new Promise((r) => setTimeout(r, 150));
    expect(log.durableSeq).toBe(0);
    expect(hook.calls).toHaveLength(0);
    await until(() => outbox.status().delivered === 1);
    await close();
  });

  it("keeps the undelivered entries of a process with a URL when log retention deletes their segments", async () => {
    const dir = tempDir();
    const small = { maxSegmentBytes: 2_000, maxSegments: 2 };
    const failing = await webhook(() => 500);
    cleanup.push(() => failing.server.close());
    // One process delivers nothing (its webhook fails), the next has no URL: the first's entries outlive their segments.
    const first = await openWorkflow(dir, { url: failing.url, baseDelayMs: 300, maxDelayMs: 300 }, small);
    for (let i = 0; i < 40; i++) {
      first.log.onPredictions([rec(`f${i}`)]);
      await first.log.flushed();
    }
    await new Promise((r) => setTimeout(r, 50));
    await first.close();
    const second = await openWorkflow(dir, {}, small);
    for (let i = 0; i < 40; i++) {
      second.log.onPredictions([rec(`s${i}`)]);
      await second.log.flushed();
    }
    await second.close();
    expect(segmentsOf(dir).length).toBeLessThanOrEqual(2);
    // What the process without a URL recorded is kept as long as the log keeps it.
    const retained = segmentsOf(dir).flatMap((f) => [...readFileSync(join(dir, "log", f), "utf8").matchAll(/"prediction_id":"(s\d+)"/g)].map((m) => m[1]));
    expect(retained.length).toBeGreaterThan(0);
    const hook = await webhook(() => 200);
    cleanup.push(() => hook.server.close());
    const third = await openWorkflow(dir, { url: hook.url }, small);
    await until(() => third.outbox.status().pending === 0 && third.outbox.status().delivered > 0);
    const delivered = new Set(hook.calls.map((c) => c.key));
    expect(hook.calls.length).toBe(delivered.size);
    for (let i = 0; i < 40; i++) expect(delivered).toContain(`f${i}`);
    for (const id of retained) expect(delivered).toContain(id);
    // The rest of the second's went with the segments that held them.
    expect(delivered.size).toBeLessThan(80);
    await third.close();
  });

  it("a process with a URL carries the entries it read back from the log at open when retention deletes their segments", async () => {
    const dir = tempDir();
    const small = { maxSegmentBytes: 2_000, maxSegments: 2 };
    const write = async (log: FileLog, prefix: string, n: number) => {
      for (let i = 0; i < n; i++) {
        log.onPredictions([rec(`${prefix}${i}`, i % 3 !== 0)]);
        await log.flushed();
      }
    };
    const idsInLog = () => segmentsOf(dir).flatMap((f) => [...readFileSync(join(dir, "log", f), "utf8").matchAll(/"prediction_id":"(r\d+)"[^\n]*"should_intervene":true/g)].map((m) => m[1]));
    const first = await openWorkflow(dir, {}, small);
    await write(first.log, "r", 30);
    await first.close();
    const recorded = idsInLog();
    expect(recorded.length).toBeGreaterThan(2);
    const failing = await webhook(() => 500);
    cleanup.push(() => failing.server.close());
    const second = await openWorkflow(dir, { url: failing.url, baseDelayMs: 20, maxDelayMs: 20, maxAttempts: 1_000 }, small);
    await write(second.log, "u", 30);
    await second.close();
    expect(idsInLog()).toEqual([]);
    const hook = await webhook(() => 200);
    cleanup.push(() => hook.server.close());
    const third = await openWorkflow(dir, { url: hook.url }, small);
    const expected = [...recorded, ...Array.from({ length: 30 }, (_, i) => `u${i}`).filter((_, i) => i % 3 !== 0)].sort();
    await until(() => third.outbox.status().delivered === expected.length);
    await new Promise((r) => setTimeout(r, 50));
    expect(hook.calls.map((c) => c.key).sort()).toEqual(expected);
    await third.close();
  });

  it("without a URL, log retention takes what it recorded with the log: the outbox file does not grow", async () => {
    const dir = tempDir();
    const { log, outbox, close } = await openWorkflow(dir, {}, { maxSegmentBytes: 4_000, maxSegments: 2 });
    for (let i = 0; i < 200; i++) {
      log.onPredictions([rec(`n${i}`)]);
      await log.flushed();
    }
    await close();
    expect(segmentsOf(dir).length).toBeLessThanOrEqual(2);
    expect(outbox.status().recorded).toBe(200);
    expect(readFileSync(join(dir, "outbox", "outbox.jsonl"), "utf8")).toBe("");
  });

  it("delivers at the configured concurrency while 5% of calls hang, each slot freed at its timeout", async () => {
    const hook = await webhook((n) => (n % 20 === 7 ? "hang" : 200));
    cleanup.push(() => hook.server.close());
    const { outbox, log, close } = await openWorkflow(tempDir(), { url: hook.url, concurrency: 16, timeoutMs: 500, baseDelayMs: 10 });
    const n = 400;
    const t0 = Date.now();
    log.onPredictions(Array.from({ length: n }, (_, i) => rec(`h${i}`)));
    await until(() => outbox.status().delivered === n, 20_000);
    const rate = n / ((Date.now() - t0) / 1000);
    console.log(`outbox: ${n} deliveries at ${rate.toFixed(0)}/s, 5% of calls hanging until a 500 ms timeout, concurrency 16`);
    expect(hook.maxOpen).toBeLessThanOrEqual(16);
    // Hung calls take 5% x 0.5 s of slot time each: ~16 / 0.025 s = 640/s at best; well above 13/s.
    expect(rate).toBeGreaterThan(100);
    await close();
  });
});

describe("webhook concurrency configuration", () => {
  it("comes from WEBHOOK_CONCURRENCY or --webhook-concurrency, 8 by default", async () => {
    const { loadConfig } = await import("../server/config.ts");
    expect(loadConfig([], {}).webhookConcurrency).toBe(8);
    expect(loadConfig([], { WEBHOOK_CONCURRENCY: "32" }).webhookConcurrency).toBe(32);
    expect(loadConfig(["--webhook-concurrency", "2"], {}).webhookConcurrency).toBe(2);
    expect(() => loadConfig([], { WEBHOOK_CONCURRENCY: "0" })).toThrow(/WEBHOOK_CONCURRENCY/);
  });
});
