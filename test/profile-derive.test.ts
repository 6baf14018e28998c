// The derivation of profile fields (server/profiles/derive.ts) and compaction (compact.ts) against
// a plain recomputation from the full event list (test/helpers/customer-events.ts), for random
// streams: random order, retried copies, late arrivals; then the same through each store.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CustomerData } from "../server/contract/customer-data.ts";
import type { CustomerEvent } from "../server/contract/events.ts";
import { horizonOf, summarize, summaryRows } from "../server/profiles/compact.ts";
import { deriveProfile } from "../server/profiles/derive.ts";
import { eventRows, RowBuffer, StringTable } from "../server/profiles/rows.ts";
import { EmbeddedCustomerData } from "../server/store/customer-data/embedded.ts";
import { PostgresCustomerData } from "../server/store/postgres/customer-data.ts";
import { batches, DAY, distinct, eventStream, instant, iso, plainProfile, T0 } from "./helpers/customer-events.ts";
import { usePostgres } from "./helpers/postgres.ts";

function rowsOf(events: CustomerEvent[], strings: StringTable): RowBuffer {
  const rows = new RowBuffer();
  for (const e of distinct(events)) eventRows(e, Date.parse(e.at), strings, rows.push.bind(rows));
  rows.sort();
  return rows;
}

function derived(events: CustomerEvent[], customerId: string, t: number) {
  const strings = new StringTable();
  return deriveProfile(rowsOf(events.filter((e) => e.customer_id === customerId), strings), t, strings.list).values;
}

describe("derive", () => {
  it("equals the plain recomputation at any instant", () => {
    fc.assert(
      fc.property(eventStream(""), fc.array(instant, { minLength: 1, maxLength: 4 }), (events, instants) => {
        for (const t of instants) for (const c of ["c0", "c1", "c2"]) expect(derived(events, c, t)).toEqual(plainProfile(events, c, t));
      }),
      { numRuns: 300 },
    );
  });

  it("windows are half-open: (t - 30 days, t]", () => {
    const t = T0 + 100 * DAY;
    const at = (ms: number, event_id: string, type: "login" | "support_ticket" = "login"): CustomerEvent => ({ event_id, customer_id: "c", type, at: iso(ms) });
    const events = [
      at(t - 30 * DAY, "edge-out"),
      at(t - 30 * DAY + 1, "edge-in"),
      at(t, "now"),
      at(t + 1, "future"),
      at(t - 30 * DAY, "ticket-out", "support_ticket"),
      at(t, "ticket-in", "support_ticket"),
    ];
    expect(derived(events, "c", t)).toMatchObject({ logins_30d: 2, support_tickets_30d: 1, days_since_last_login: 0 });
    expect(derived(events, "c", t)).toEqual(plainProfile(events, "c", t));
    const usage = (ms: number, amount: number, event_id: string): CustomerEvent => ({ event_id, customer_id: "c", type: "usage", at: iso(ms), amount });
    // U1 = (t-30d, t], U0 = (t-60d, t-30d]: the event at exactly t-30d is in U0, the one at t-60d in neither.
    const u = [usage(t, 3, "a"), usage(t - 30 * DAY, 2, "b"), usage(t - 60 * DAY, 100, "c")];
    expect(derived(u, "c", t).usage_change_30d).toBe(0.5);
  });

  it("sums add in (at, amount) order, whatever the arrival order", () => {
    const bill = (event_id: string, amount: number): CustomerEvent => ({ event_id, customer_id: "c", type: "billing", at: iso(T0), amount, paid_late: false });
    const events = [bill("a", 0.3), bill("b", 0.2), bill("c", 0.1)];
    // (0.1 + 0.2) + 0.3 = 0.6000000000000001, (0.3 + 0.2) + 0.1 = 0.6
    expect(derived(events, "c", T0).total_charges).toBe(0.1 + 0.2 + 0.3);
    expect(derived([...events].reverse(), "c", T0).total_charges).toBe(0.1 + 0.2 + 0.3);
  });

  it("a profile field takes the latest value; at equal instants the greatest, whatever the order", () => {
    const p = (event_id: string, at: number, contract_type: string): CustomerEvent => ({ event_id, customer_id: "c", type: "profile", at: iso(at), contract_type });
    const events = [p("1", T0 + DAY, "Two year"), p("2", T0, "Month-to-month"), p("3", T0 + DAY, "One year")];
    expect(derived(events, "c", T0 + DAY).contract_type).toBe("Two year");
    expect(derived([...events].reverse(), "c", T0 + DAY).contract_type).toBe("Two year");
    expect(derived(events, "c", T0).contract_type).toBe("Month-to-month");
  });

  it("compacted history answers as the full one from the horizon on", () => {
    fc.assert(
      fc.property(eventStream("", 60), instant, fc.array(fc.integer({ min: 0, max: 120 * DAY }), { minLength: 1, maxLength: 4 }), (events, cutoff, later) => {
        for (const c of ["c0", "c1", "c2"]) {
          const strings = new StringTable();
          const full = rowsOf(events.filter((e) => e.customer_id === c), strings);
          const old = full.at.subarray(0, full.length).findIndex((a) => a >= cutoff);
          const split = old === -1 ? full.length : old;
          const compacted = new RowBuffer();
          const push = compacted.push.bind(compacted);
          if (split > 0) summaryRows(summarize(full, split, strings.list), strings, push);
          for (let i = split; i < full.length; i++) push(full.kind[i], full.at[i], full.value[i]);
          compacted.sort();
          for (const dt of later) {
            const t = horizonOf(cutoff) + dt;
            expect(deriveProfile(compacted, t, strings.list).values).toEqual(plainProfile(events, c, t));
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

const pg = usePostgres();

describe.each([
  ["embedded", async () => {
    const dir = mkdtempSync(join(tmpdir(), "derive-"));
    const store = await EmbeddedCustomerData.open(dir, { commitIntervalMs: 0 });
    return { store, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  }],
  ["postgres", async () => ({ store: await PostgresCustomerData.connect(await pg.freshDatabase(), { poolSize: 4 }), cleanup: () => {} })],
] as const)("through the %s store", (_name, open) => {
  let store: CustomerData;
  let cleanup: () => void;
  beforeAll(async () => {
    ({ store, cleanup } = await open());
  });
  afterAll(async () => {
    await store.close();
    cleanup();
  });

  it("ingested in random batches, profiles equal the plain recomputation", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(eventStream("", 40), fc.array(fc.nat({ max: 12 }), { maxLength: 6 }), fc.array(instant, { minLength: 1, maxLength: 3 }), async (stream, sizes, instants) => {
        // Each run has customers of its own in the one store.
        const prefix = `r${run++}-`;
        const events = stream.map((e) => ({ ...e, customer_id: prefix + e.customer_id }));
        for (const batch of batches(events, sizes)) await store.ingest(batch);
        for (const t of instants) {
          for (const c of ["c0", "c1", "c2"]) {
            const expected = plainProfile(events, prefix + c, t);
            const got = await store.profile(prefix + c, t);
            if (!events.some((e) => e.customer_id === prefix + c)) expect(got).toBeUndefined();
            else expect(got?.values).toEqual(expected);
          }
        }
      }),
      { numRuns: 40 },
    );
  });
});
