// Prediction ids (UUIDv8 with a process prefix and a sequence number) and the log's index that
// joins outcomes to predictions by position, checked against a plain list of what was added.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PredictionIds } from "../server/contract/ids.ts";
import { MemoryInterventionHistory } from "../server/store/history.ts";
import { PredictionIndex } from "../server/store/prediction-index.ts";

const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("prediction ids", () => {
  it("are version-8 UUIDs that count within a process and differ between processes", () => {
    const a = new PredictionIds();
    const b = new PredictionIds();
    const ids = [a.next(), a.next(), b.next()];
    for (const id of ids) expect(id).toMatch(UUID_V8);
    expect(PredictionIds.parse(ids[0])).toEqual({ instance: a.instance, seq: 0 });
    expect(PredictionIds.parse(ids[1])).toEqual({ instance: a.instance, seq: 1 });
    expect(a.instance).not.toBe(b.instance);
    expect(PredictionIds.format(a.instance, 1)).toBe(ids[1]);
  });

  it("parse refuses every other id (property)", () => {
    expect(PredictionIds.parse("1a015ddf-cd3b-4adc-ae73-37214691baf1")).toBeNull(); // a random (v4) UUID
    fc.assert(fc.property(fc.string(), (s) => PredictionIds.parse(s) === null || UUID_V8.test(s)));
  });
});

interface Added {
  id: string;
  customer: string;
  p: number;
  /** index.next before it was added: segment boundaries are taken there. */
  mark: number;
  /** An outcome joined it. */
  labelled: boolean;
}

// One step: a new process or not, sequence numbers skipped (never logged), the customer, the
// probability, and whether a segment starts before it.
const step = fc.record({
  newProcess: fc.integer({ min: 0, max: 9 }).map((x) => x === 0),
  skip: fc.integer({ min: 0, max: 3 }),
  customer: fc.integer({ min: 0, max: 6 }),
  p: fc.double({ min: 0, max: 1, noNaN: true }),
  label: fc.boolean(),
});

describe("prediction index", () => {
  it("finds every retained prediction by id and each customer's latest, whatever came between (property)", () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 300 }), fc.integer({ min: 0, max: 300 }), (steps, dropAt) => {
        const index = new PredictionIndex();
        const added: Added[] = [];
        const skipped: string[] = [];
        let ids = new PredictionIds();
        for (const s of steps) {
          if (s.newProcess) ids = new PredictionIds();
          for (let k = 0; k < s.skip; k++) skipped.push(ids.next());
          const id = ids.next();
          added.push({ id, customer: `c${s.customer}`, p: s.p, mark: index.next, labelled: s.label });
          index.add(id, `c${s.customer}`, s.p);
          if (s.label) expect(index.label(id)).toBe(true);
          if (s.label) expect(index.label(id)).toBe(false);
        }
        // Retention: everything before the segment that starts at the `dropAt`-th prediction goes.
        const cut = Math.min(dropAt, added.length);
        const boundary = cut < added.length ? added[cut].mark : index.next;
        index.dropBefore(boundary);
        const kept = added.slice(cut);
        for (const a of added.slice(0, cut)) expect(index.find({ prediction_id: a.id })).toBeUndefined();
        for (const a of kept) expect(index.find({ prediction_id: a.id })).toEqual({ prediction_id: a.id, churn_probability: a.p, labelled: a.labelled });
        for (const id of skipped) expect(index.find({ prediction_id: id })).toBeUndefined();
        for (let c = 0; c <= 6; c++) {
          const latest = [...added].reverse().find((a) => a.customer === `c${c}`);
          const want = latest && kept.includes(latest) ? { prediction_id: latest.id, churn_probability: latest.p, labelled: latest.labelled } : undefined;
          expect(index.find({ customer_id: `c${c}` })).toEqual(want);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("ignores ids of another format and a prediction added twice", () => {
    const index = new PredictionIndex();
    const ids = new PredictionIds();
    const id = ids.next();
    index.add("1a015ddf-cd3b-4adc-ae73-37214691baf1", "c", 0.9);
    index.add(id, "c", 0.25);
    index.add(id, "c", 0.75);
    expect(index.find({ prediction_id: id })).toEqual({ prediction_id: id, churn_probability: 0.25, labelled: false });
    expect(index.find({ prediction_id: "1a015ddf-cd3b-4adc-ae73-37214691baf1" })).toBeUndefined();
    expect(index.next).toBe(1);
  });

  it("joins the first of a million predictions (the monitor's old in-memory window held 100,000)", () => {
    const index = new PredictionIndex();
    const ids = new PredictionIds();
    let first = "";
    for (let i = 0; i < 1_000_000; i++) {
      const id = ids.next();
      if (i === 0) first = id;
      index.add(id, `c${i % 5000}`, (i % 100) / 100);
    }
    expect(index.find({ prediction_id: first })).toEqual({ prediction_id: first, churn_probability: 0, labelled: false });
    // 5,000 customers: the per-customer column grew past its first 1,024.
    expect(index.find({ customer_id: "c4999" })).toEqual({ prediction_id: PredictionIds.format(ids.instance, 999_999), churn_probability: 0.99, labelled: false });
    expect(index.find({ customer_id: "c5000" })).toBeUndefined();
  });

  it("joins a customer's latest prediction only if made within the window", () => {
    const index = new PredictionIndex();
    const ids = new PredictionIds();
    const [old, recent] = [ids.next(), ids.next()];
    index.add(old, "old", 0.4, 1_000);
    index.add(recent, "recent", 0.6, 5_000);
    expect(index.find({ customer_id: "old" }, 2_000)).toBeUndefined();
    expect(index.find({ customer_id: "recent" }, 2_000)).toEqual({ prediction_id: recent, churn_probability: 0.6, labelled: false });
    // By id, the window does not apply.
    expect(index.find({ prediction_id: old }, 2_000)?.prediction_id).toBe(old);
  });
});

describe("intervention history", () => {
  it("remembers each customer's last trigger of each intervention, for thousands of customers", async () => {
    const history = new MemoryInterventionHistory();
    for (let c = 0; c < 3000; c++) history.record(`c${c}`, c % 2 ? "call" : "email", c);
    history.record("c7", "call", 70);
    expect((await history.lastTriggered(["c2"])).get("c2")?.email).toBe(2); // recorded before the columns grew
    expect((await history.lastTriggered(["c2999"])).get("c2999")?.call).toBe(2999);
    expect((await history.lastTriggered(["c2998"])).get("c2998")?.email).toBe(2998);
    expect((await history.lastTriggered(["c2998"])).get("c2998")?.call).toBeUndefined();
    expect((await history.lastTriggered(["c7"])).get("c7")?.call).toBe(70);
    expect((await history.lastTriggered(["nobody"])).get("nobody")?.call).toBeUndefined();
    expect((await history.lastTriggered(["c1"])).get("c1")?.upgrade).toBeUndefined();
  });
});
