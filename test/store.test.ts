// The durable prediction log: what was flushed is there after reopening; a torn last line is
// dropped; retention bounds the segments; outcomes and intervention history survive restarts.
import { mkdtempSync, readdirSync, readFileSync, appendFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FileLog } from "../server/store/log.ts";
import { PredictionIds } from "../server/contract/ids.ts";
import type { PredictionRecord } from "../server/contract/records.ts";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "log-"));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const instance = new PredictionIds().instance;
/** The id of this test process's i-th prediction. */
const id = (i: number) => PredictionIds.format(instance, i);

function fakeRecord(i: number, extra: Partial<PredictionRecord> = {}): PredictionRecord {
  return {
    prediction_id: id(i), at: 1_700_000_000_000 + i, operation: "predict", customer_id: `c${i % 10}`, model_version: "m",
    inputs: { tenure: i }, imputed_features: [], churn_probability: (i % 100) / 100, effects: null,
    recommended_intervention: null, should_intervene: false, predicted_churn_reduction: null, cost: null, expected_value: null, latency_ms: 1,
    ...extra,
  };
}

describe("prediction log", () => {
  it("keeps every flushed record, outcome and trigger across a reopen", async () => {
    const dir = tempDir();
    const log = await FileLog.open(dir);
    log.onPredictions(Array.from({ length: 100 }, (_, i) => fakeRecord(i)));
    log.onPredictions([fakeRecord(100, { customer_id: "vip", should_intervene: true, recommended_intervention: "retention_call", at: 42 })]);
    await log.label([{ prediction_id: id(5), churned: true, at: 1, churn_probability: 0.05 }]);
    expect(log.appendedSeq).toBe(102);
    await log.flushed();
    expect(log.durableSeq).toBe(102);
    await log.close();

    const again = await FileLog.open(dir, { recentSize: 10, outcomeCustomerWindowMs: Infinity });
    expect((await again.join([{ prediction_id: id(57) }]))[0]?.churn_probability).toBe(0.57);
    expect((await again.join([{ customer_id: "vip" }]))[0]).toEqual({ prediction_id: id(100), churn_probability: 0, labelled: false });
    expect((await again.join([{ prediction_id: id(5) }]))[0]?.labelled).toBe(true);
    expect((await again.lastTriggered(["vip"])).get("vip")?.retention_call).toBe(42);
    expect((await again.lastTriggered(["vip"])).get("vip")?.email_nudge).toBeUndefined();
    const { predictions, outcomes } = again.recent();
    expect(predictions.map((p) => p.prediction_id)).toEqual(Array.from({ length: 10 }, (_, i) => id(91 + i)));
    expect(outcomes).toEqual([{ prediction_id: id(5), churned: true, at: 1, churn_probability: 0.05 }]);
    expect(again.durableSeq).toBe(102);
    await again.close();
  });

  it("drops a torn last line left by a crash and keeps appending cleanly", async () => {
    const dir = tempDir();
    const log = await FileLog.open(dir);
    log.onPredictions([fakeRecord(1), fakeRecord(2)]);
    await log.close();
    const [segment] = readdirSync(dir);
    appendFileSync(join(dir, segment), `{"t":"p","prediction_id":"${id(3)}","at":`);
    const reopened = await FileLog.open(dir);
    expect((await reopened.join([{ prediction_id: id(2) }]))[0]).toBeDefined();
    expect((await reopened.join([{ prediction_id: id(3) }]))[0]).toBeUndefined();
    reopened.onPredictions([fakeRecord(4)]);
    await reopened.close();
    const third = await FileLog.open(dir);
    expect((await third.join([1, 2, 4].map((i) => ({ prediction_id: id(i) })))).map((p) => p?.prediction_id)).toEqual([id(1), id(2), id(4)]);
    expect((await third.join([{ prediction_id: id(3) }]))[0]).toBeUndefined();
    await third.close();
  });

  it("reads many segments back keeping only the newest records, and joins every prediction still held", async () => {
    const dir = tempDir();
    const log = await FileLog.open(dir, { maxSegmentBytes: 2_000, maxSegments: 1_000 });
    for (let i = 0; i < 300; i++) {
      log.onPredictions([fakeRecord(i)]);
      if (i % 3 === 0) await log.label([{ prediction_id: id(i), churned: i % 2 === 0, at: i, churn_probability: (i % 100) / 100 }]);
      await log.flushed();
    }
    await new Promise((r) => setTimeout(r, 50));
    await log.close();
    expect(readdirSync(dir).length).toBeGreaterThan(20);
    const again = await FileLog.open(dir, { recentSize: 50 });
    const { predictions, outcomes } = again.recent();
    expect(predictions.map((p) => p.prediction_id)).toEqual(Array.from({ length: 50 }, (_, k) => id(250 + k)));
    expect(outcomes.map((o) => o.prediction_id)).toEqual(Array.from({ length: 50 }, (_, k) => id(150 + 3 * k)));
    for (const i of [0, 1, 150, 299]) expect((await again.join([{ prediction_id: id(i) }]))[0]?.churn_probability).toBe((i % 100) / 100);
    expect(again.durableSeq).toBe(400);
    await again.close();
  });

  it("rotates segments and deletes the oldest beyond retention", async () => {
    const dir = tempDir();
    const log = await FileLog.open(dir, { maxSegmentBytes: 2_000, maxSegments: 3 });
    for (let i = 0; i < 100; i++) {
      log.onPredictions([fakeRecord(i)]);
      await log.flushed();
    }
    await new Promise((r) => setTimeout(r, 50));
    // What the deleted segments held can no longer be joined, in this process or the next.
    expect((await log.join([{ prediction_id: id(0) }]))[0]).toBeUndefined();
    expect((await log.join([{ prediction_id: id(99) }]))[0]?.churn_probability).toBe(0.99);
    await log.close();
    const segments = readdirSync(dir).filter((name) => name.startsWith("segment-"));
    expect(segments.length).toBeLessThanOrEqual(3);
    const reopened = await FileLog.open(dir);
    expect((await reopened.join([{ prediction_id: id(99) }]))[0]).toBeDefined();
    expect((await reopened.join([{ prediction_id: id(0) }]))[0]).toBeUndefined();
    await reopened.close();
  });
});

describe("log retention configuration", () => {
  it("comes from flags or environment, validated", async () => {
    const { loadConfig } = await import("../server/config.ts");
    expect(loadConfig(["--log-segments", "4"], { LOG_SEGMENT_BYTES: "1048576" })).toMatchObject({ logSegments: 4, logSegmentBytes: 1048576 });
    expect(() => loadConfig([], { LOG_SEGMENTS: "0" })).toThrow(/LOG_SEGMENTS: expected an integer in 1\.\.100000, got "0"/);
    expect(() => loadConfig(["--port", "http"])).toThrow(/--port: expected an integer/);
    expect(() => loadConfig(["--monitoring", "maybe"])).toThrow(/--monitoring: expected on or off/);
  });
});

describe("outcomes against the log", () => {
  it("count once per prediction: repeats and contradictions are conflicts, also after a restart", async () => {
    const { recordOutcomes } = await import("../server/service/outcomes.ts");
    const dir = tempDir();
    const log = await FileLog.open(dir);
    const now = Date.now();
    log.onPredictions(Array.from({ length: 20 }, (_, i) => fakeRecord(i, { at: now })));
    const counted: { prediction_id: string; churned: boolean }[] = [];
    const observers = [log, { onPredictions() {}, onOutcomes: (o: { prediction_id: string; churned: boolean }[]) => counted.push(...o) }];
    // 500 outcomes repeating the 20 ids, the label flipping each round (the poisoning).
    const outcomes = Array.from({ length: 500 }, (_, k) => ({ prediction_id: id(k % 20), churned: Math.floor(k / 20) % 2 === 1 }));
    const first = await recordOutcomes(log, observers, { outcomes });
    expect(first.matched.map((m) => m.index)).toEqual(Array.from({ length: 20 }, (_, k) => k));
    expect(first.conflicts).toHaveLength(480);
    expect(first.conflicts[0]).toEqual({ index: 20, prediction_id: id(0), reason: "the prediction already has an outcome (index 0 of this call)" });
    expect(counted).toHaveLength(20);
    const second = await recordOutcomes(log, observers, { prediction_id: id(3), churned: true });
    expect(second).toEqual({ matched: [], unmatched: [], conflicts: [{ index: 0, prediction_id: id(3), reason: "the prediction already has an outcome" }] });
    await log.close();

    const again = await FileLog.open(dir);
    expect(again.recent().outcomes).toHaveLength(20);
    expect((await recordOutcomes(again, [again], { prediction_id: id(7), churned: true })).conflicts).toHaveLength(1);
    await again.close();
  });

  it("join a customer's latest prediction only within the outcome window", async () => {
    const { recordOutcomes } = await import("../server/service/outcomes.ts");
    const log = await FileLog.open(tempDir(), { outcomeCustomerWindowMs: 30 * 86_400_000 });
    const day = 86_400_000;
    log.onPredictions([fakeRecord(1, { customer_id: "stale", at: Date.now() - 45 * day }), fakeRecord(2, { customer_id: "fresh", at: Date.now() - 10 * day })]);
    const r = await recordOutcomes(log, [log], { outcomes: [{ customer_id: "stale", churned: true }, { customer_id: "fresh", churned: true }] });
    expect(r.unmatched).toEqual([{ index: 0, reason: "no prediction for customer stale within the outcome window in the log's retention" }]);
    expect(r.matched.map((m) => m.prediction_id)).toEqual([id(2)]);
    // By prediction id an outcome joins however old its prediction.
    expect((await recordOutcomes(log, [log], { prediction_id: id(1), churned: true })).matched).toHaveLength(1);
    await log.close();
  });
});

describe("outcome window configuration", () => {
  it("comes from OUTCOME_CUSTOMER_WINDOW_DAYS, 90 by default", async () => {
    const { loadConfig } = await import("../server/config.ts");
    expect(loadConfig([], {}).outcomeCustomerWindowDays).toBe(90);
    expect(loadConfig([], { OUTCOME_CUSTOMER_WINDOW_DAYS: "7" }).outcomeCustomerWindowDays).toBe(7);
    expect(() => loadConfig([], { OUTCOME_CUSTOMER_WINDOW_DAYS: "-1" })).toThrow(/OUTCOME_CUSTOMER_WINDOW_DAYS/);
  });
});

describe("cooldowns and customers across retention", () => {
  const DAY = 86_400_000;
  const cooldowns = new Map([["retention_call", 30 * DAY], ["email_nudge", 7 * DAY]]);
  /** As the service does: starts `intervention` for `customer` at `at`, then logs the prediction that recommended it. */
  async function started(log: FileLog, i: number, customer: string, intervention: string, at: number) {
    expect(await log.start([{ customer_id: customer, intervention, at, cooldown_ms: cooldowns.get(intervention) ?? 0, workflow: {} as never }])).toEqual([true]);
    log.onPredictions([fakeRecord(i, { customer_id: customer, should_intervene: true, recommended_intervention: intervention, at })]);
  }
  const small = { maxSegmentBytes: 2_000, maxSegments: 2 };
  /**
   * A log of 2 small segments (the catalog's cooldowns set, unless `bundle` is false) given these
   * starts, then filled with other customers' predictions until the segments that held them are deleted.
   */
  async function startsRolledOver(dir: string, starts: [customer: string, intervention: string, at: number][], bundle = true) {
    const log = await FileLog.open(dir, small);
    if (bundle) log.setCooldowns(cooldowns);
    for (const [i, [customer, intervention, at]] of starts.entries()) await started(log, i, customer, intervention, at);
    for (let i = starts.length; i < starts.length + 120; i++) {
      log.onPredictions([fakeRecord(i, { customer_id: `filler${i}`, at: Date.now() })]);
      await log.flushed();
    }
    await new Promise((r) => setTimeout(r, 50));
    return log;
  }

  it("keeps a start in cooldown after its segment is deleted, across a restart, and forgets one whose cooldown is over", async () => {
    const dir = tempDir();
    const now = Date.now();
    const log = await startsRolledOver(dir, [
      ["vip", "retention_call", now - 10 * DAY],
      ["lapsed", "email_nudge", now - 8 * DAY],
      ["both", "email_nudge", now - 1 * DAY],
      ["both", "retention_call", now - 40 * DAY],
    ]);
    expect((await log.join([{ prediction_id: id(0) }]))[0]).toBeUndefined();
    const expected = new Map([["vip", { retention_call: now - 10 * DAY }], ["lapsed", {}], ["both", { email_nudge: now - 1 * DAY }]]);
    expect(await log.lastTriggered(["vip", "lapsed", "both"])).toEqual(expected);
    // The fillers of the deleted segments are forgotten too; the kept ones are those of the two retained segments and vip, both.
    expect(log.customerCount).toBeLessThan(40);
    await log.close();
    // Each carried start is in the cooldown file once, however many rotations came after.
    const lines = readFileSync(join(dir, "cooldowns.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines).toEqual(expect.arrayContaining([{ c: "vip", i: "retention_call", at: now - 10 * DAY }, { c: "both", i: "email_nudge", at: now - 1 * DAY }]));
    expect(lines).toHaveLength(2);

    const again = await FileLog.open(dir, small);
    expect(await again.lastTriggered(["vip", "lapsed", "both"])).toEqual(expected);
    // Still in cooldown after the restart: a second start is refused.
    expect(await again.start([{ customer_id: "vip", intervention: "retention_call", at: now, cooldown_ms: 30 * DAY, workflow: {} as never }])).toEqual([false]);
    await again.close();
  });

  it("keeps every start until a bundle says how long its cooldown is", async () => {
    const log = await startsRolledOver(tempDir(), [["old", "email_nudge", 1]], false);
    expect((await log.lastTriggered(["old"])).get("old")).toEqual({ email_nudge: 1 });
    await log.close();
  });

  it("a start of an intervention the catalog no longer names is kept for the catalog's longest cooldown", async () => {
    const now = Date.now();
    const log = await startsRolledOver(tempDir(), [["a", "retired_offer", now - 20 * DAY], ["b", "retired_offer", now - 31 * DAY]]);
    expect(await log.lastTriggered(["a", "b"])).toEqual(new Map([["a", { retired_offer: now - 20 * DAY }], ["b", {}]]));
    await log.close();
  });
});

describe("cooldown file", () => {
  it("is worth rewriting once most of its lines are no longer needed, keeps only what it is given, and reads back the same", async () => {
    const { CooldownFile } = await import("../server/store/cooldown-file.ts");
    const path = join(tempDir(), "cooldowns.jsonl");
    const file = await CooldownFile.open(path, () => {});
    const starts = Array.from({ length: 12_000 }, (_, k) => ({ c: `c${k}`, i: "email_nudge", at: k }));
    await file.add(starts.slice(0, 9_000));
    // Too small to bother, however much of it is dead.
    expect(file.wasteful(9_000)).toBe(false);
    await file.add(starts.slice(9_000));
    expect(file.wasteful(6_000)).toBe(false);
    expect(file.wasteful(6_001)).toBe(true);
    await file.rewrite(starts.slice(0, 5));
    expect(file.wasteful(5)).toBe(false);
    // Appends go on after a rewrite.
    await file.add([starts[11_999]]);
    await file.close();
    const read: unknown[] = [];
    await (await CooldownFile.open(path, (s) => read.push(s))).close();
    expect(read).toEqual([...starts.slice(0, 5), starts[11_999]]);
  });
});

describe("carried starts", () => {
  it("count as dropped once a later start replaces them or their cooldown ends, and not before", async () => {
    const { MemoryInterventionHistory } = await import("../server/store/history.ts");
    const { CustomerTable } = await import("../server/store/customer-table.ts");
    const table = new CustomerTable();
    const history = new MemoryInterventionHistory(table);
    history.setCooldowns(new Map([["call", 100]]));
    history.record("a", "call", 10, true);
    history.record("b", "call", 10, true);
    history.record("c", "call", 500, true);
    // The same start read again from a segment: still the carried one.
    history.record("a", "call", 10);
    expect(history.dropped).toBe(0);
    history.record("a", "call", 20);
    expect(history.dropped).toBe(1);
    // At 150, b's start (10) is over; a's latest (20) was never carried; c's still blocks.
    expect([history.prune(table.find("a")!, 150), history.prune(table.find("b")!, 150), history.prune(table.find("c")!, 150)]).toEqual([false, false, true]);
    expect(history.dropped).toBe(2);
    expect(await history.carried(150)).toEqual([{ c: "c", i: "call", at: 500 }]);
    expect(history.dropped).toBe(0);
  });
});
