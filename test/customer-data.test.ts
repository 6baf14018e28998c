// One conformance suite for both customer-data stores (embedded and PostgreSQL): idempotency,
// atomic batches, profile sources, imported rows, compaction. Then what only the embedded store
// has to prove: a restart and a kill -9 lose no acknowledged event.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { CustomerDataRefusal, type CustomerData } from "../server/contract/customer-data.ts";
import type { CustomerEvent } from "../server/contract/events.ts";
import { EmbeddedCustomerData } from "../server/store/customer-data/embedded.ts";
import { PostgresCustomerData } from "../server/store/postgres/customer-data.ts";
import { batches, DAY, eventStream, iso, plainProfile, T0 } from "./helpers/customer-events.ts";
import { writeThenKill } from "./helpers/kill-writer.ts";
import { usePostgres } from "./helpers/postgres.ts";

const pg = usePostgres();
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "customer-data-"));
  dirs.push(dir);
  return dir;
}

const login = (customer_id: string, event_id: string, at: number): CustomerEvent => ({ event_id, customer_id, type: "login", at: iso(at) });
const bill = (customer_id: string, event_id: string, at: number, amount: number): CustomerEvent => ({ event_id, customer_id, type: "billing", at: iso(at), amount, paid_late: false });

async function refusal(p: Promise<unknown>): Promise<CustomerDataRefusal> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(CustomerDataRefusal);
  return err as CustomerDataRefusal;
}

/** Each store as a fresh, empty one; `reopen` (embedded only) closes it and opens its folder again. */
interface Subject {
  store: CustomerData;
  reopen?: () => Promise<CustomerData>;
  /** Makes the store's next write fail inside the store (a store-level failure). */
  poison?: (eventId: string) => Promise<void>;
}

const subjects: [string, () => Promise<Subject>][] = [
  ["embedded", async () => {
    const dir = tempDir();
    const subject: Subject = { store: await EmbeddedCustomerData.open(dir, { commitIntervalMs: 0 }) };
    subject.reopen = async () => {
      await subject.store.close();
      return (subject.store = await EmbeddedCustomerData.open(dir, { commitIntervalMs: 0 }));
    };
    return subject;
  }],
  ["postgres", async () => {
    const url = await pg.freshDatabase();
    return {
      store: await PostgresCustomerData.connect(url, { poolSize: 4 }),
      poison: async (eventId) => {
        const sql = postgres(url, { max: 1, onnotice: () => {} });
        await sql.unsafe(`ALTER TABLE customer_events ADD CONSTRAINT poison CHECK (event_id <> '${eventId}')`);
        await sql.end();
      },
    };
  }],
];

describe.each(subjects)("%s store", (_name, make) => {
  const use = async (test: (s: Subject) => Promise<void>) => {
    const s = await make();
    try {
      await test(s);
    } finally {
      await s.store.close();
    }
  };

  it("an event id seen before changes nothing and is reported as a duplicate", () =>
    use(async ({ store }) => {
      expect(await store.ingest([bill("c", "e1", T0, 10), bill("c", "e2", T0, 5), bill("c", "e1", T0, 10)])).toEqual([
        { event_id: "e1", status: "applied" },
        { event_id: "e2", status: "applied" },
        { event_id: "e1", status: "duplicate" },
      ]);
      expect(await store.ingest([bill("c", "e2", T0, 5), bill("c", "e3", T0 + 1, 1)])).toEqual([
        { event_id: "e2", status: "duplicate" },
        { event_id: "e3", status: "applied" },
      ]);
      // The same id for another customer is another event.
      expect(await store.ingest([bill("d", "e1", T0, 7)])).toEqual([{ event_id: "e1", status: "applied" }]);
      expect((await store.profile("c", T0 + DAY))?.values.total_charges).toBe(16);
      // Concurrent copies: exactly one is applied.
      const results = await Promise.all([store.ingest([login("c", "l1", T0)]), store.ingest([login("c", "l1", T0)])]);
      expect(results.map((r) => r[0].status).sort()).toEqual(["applied", "duplicate"]);
      expect((await store.profile("c", T0 + DAY))?.values.logins_30d).toBe(1);
    }));

  it("sums are the same bits whatever the arrival order", () =>
    use(async ({ store }) => {
      await store.ingest([bill("a", "1", T0, 0.3), bill("a", "2", T0, 0.2), bill("a", "3", T0, 0.1)]);
      await store.ingest([bill("b", "3", T0, 0.1)]);
      await store.ingest([bill("b", "1", T0, 0.3), bill("b", "2", T0, 0.2)]);
      expect((await store.profile("a", T0))?.values.total_charges).toBe(0.1 + 0.2 + 0.3);
      expect((await store.profile("b", T0))?.values.total_charges).toBe(0.1 + 0.2 + 0.3);
    }));

  it("a refused batch applies nothing", () =>
    use(async ({ store, poison }) => {
      await store.compact(T0);
      const batch = [login("c", "ok", T0 + DAY), login("c", "old", T0 - 1), login("c", "ok2", T0 + DAY)];
      const err = await refusal(store.ingest(batch));
      expect(err.issues).toEqual([{ path: [1, "at"], message: expect.stringContaining("before the compaction cutoff") }]);
      expect(await store.profile("c", T0 + 100 * DAY)).toBeUndefined();
      // Nothing of it was recorded: the good events apply on a later try.
      expect((await store.ingest([batch[0], batch[2]])).map((r) => r.status)).toEqual(["applied", "applied"]);
      if (poison) {
        // A failure inside the store (here: a constraint) rejects the batch with the store's error, and applies none of it.
        await poison("bad");
        const failed = await store.ingest([login("d", "fine", T0 + DAY), login("d", "bad", T0 + DAY)]).then(() => null, (e: Error) => e);
        expect(failed).toBeInstanceOf(Error);
        expect(failed).not.toBeInstanceOf(CustomerDataRefusal);
        expect(await store.profile("d", T0 + 100 * DAY)).toBeUndefined();
      }
    }));

  it("profile fields come from events, else from the imported row; unknown customers are undefined", () =>
    use(async ({ store }) => {
      await store.importRows([
        { customer_id: "c", fields: { tenure: 40, monthly_charges: 70, contract_type: "One year", total_charges: null } },
        { customer_id: "r", fields: { tenure: 3 } },
        { customer_id: "r", fields: { tenure: 4, senior_citizen: true } },
      ]);
      await store.ingest([
        { event_id: "p", customer_id: "c", type: "profile", at: iso(T0), contract_type: "Two year" },
        login("c", "l", T0),
      ]);
      const p = await store.profile("c", T0 + DAY);
      expect(p?.values).toEqual({ tenure: 40, monthly_charges: 70, contract_type: "Two year", logins_30d: 1, late_payments_90d: 0, support_tickets_30d: 0, days_since_last_login: 1 });
      expect(p?.sources).toEqual({ tenure: "store", monthly_charges: "store", contract_type: "events", logins_30d: "events", late_payments_90d: "events", support_tickets_30d: "events", days_since_last_login: "events" });
      // A later row replaces the earlier one whole.
      expect((await store.profile("r", T0))?.values).toEqual({ tenure: 4, senior_citizen: true });
      await store.importRows([{ customer_id: "r", fields: { monthly_charges: 9 } }]);
      expect((await store.profile("r", T0))?.values).toEqual({ monthly_charges: 9 });
      // Before its first event, a known customer has a profile of its row only; one of events alone, an empty one.
      expect((await store.profile("c", T0 - DAY))?.values).toEqual({ tenure: 40, monthly_charges: 70, contract_type: "One year" });
      await store.ingest([login("f", "x", T0 + 10 * DAY)]);
      expect(await store.profile("f", T0)).toEqual({ values: {}, sources: {} });
      expect(await store.profile("nobody", T0)).toBeUndefined();
      // Many at once, each at its own instant, a customer twice: the same answers as one by one.
      const queries = [{ customer_id: "c", at: T0 + DAY }, { customer_id: "nobody", at: T0 }, { customer_id: "r", at: T0 }, { customer_id: "c", at: T0 - DAY }];
      expect(await store.profiles(queries)).toEqual(await Promise.all(queries.map((q) => store.profile(q.customer_id, q.at))));
    }));

  it("compaction keeps every answer from the horizon on, and refuses instants before it", () =>
    use(async (subject) => {
      await fc.assert(
        fc.asyncProperty(eventStream("", 60), fc.array(fc.nat({ max: 20 }), { maxLength: 4 }), async (stream, sizes) => {
          const s = await make();
          try {
            for (const b of batches(stream, sizes)) await s.store.ingest(b);
            const cutoff = T0 + 60 * DAY;
            const instants = [cutoff + 90 * DAY, cutoff + 95 * DAY + 1, T0 + 200 * DAY];
            const before = await Promise.all(instants.flatMap((t) => ["c0", "c1", "c2"].map((c) => s.store.profile(c, t))));
            await s.store.compact(cutoff);
            expect(await s.store.horizon()).toBe(cutoff + 90 * DAY);
            const after = await Promise.all(instants.flatMap((t) => ["c0", "c1", "c2"].map((c) => s.store.profile(c, t))));
            expect(after).toEqual(before);
            expect(after.map((p) => p?.values)).toEqual(instants.flatMap((t) => ["c0", "c1", "c2"].map((c) => (stream.some((e) => e.customer_id === c) ? plainProfile(stream, c, t) : undefined))));
            if (s.reopen) {
              const reopened = await s.reopen();
              expect(await Promise.all(instants.flatMap((t) => ["c0", "c1", "c2"].map((c) => reopened.profile(c, t))))).toEqual(before);
            }
          } finally {
            await s.store.close();
          }
        }),
        { numRuns: subject.reopen ? 25 : 8 },
      );
      const { store } = subject;
      await store.ingest([login("c", "l", T0)]);
      await store.compact(T0 + DAY);
      const err = await refusal(store.profile("c", T0 + 90 * DAY));
      expect(err.issues[0].path).toEqual(["at"]);
      // In a batch, each refused instant is named by its position.
      const many = await refusal(store.profiles([{ customer_id: "c", at: T0 + 91 * DAY }, { customer_id: "c", at: T0 }, { customer_id: "x", at: T0 + DAY }]));
      expect(many.issues.map((i) => i.path)).toEqual([[1, "at"], [2, "at"]]);
      expect((await store.profile("c", T0 + 91 * DAY))?.values.days_since_last_login).toBe(91);
    }));

  it("a closed store refuses work", async () => {
    const { store } = await make();
    await store.close();
    await expect(store.ingest([login("c", "x", T0)])).rejects.toThrow();
  });
});

describe("embedded store across restarts", () => {
  it("a reopened store has every acknowledged event, compacted or not", async () => {
    const dir = tempDir();
    let store = await EmbeddedCustomerData.open(dir, { commitIntervalMs: 0, maxSegmentBytes: 2048 });
    const events: CustomerEvent[] = [];
    for (let i = 0; i < 300; i++) events.push(i % 3 ? login(`c${i % 7}`, `l${i}`, T0 + i * 3600_000) : bill(`c${i % 7}`, `b${i}`, T0 + i * 3600_000, i / 7));
    await store.ingest(events.slice(0, 100));
    await store.importRows([{ customer_id: "c1", fields: { tenure: 12 } }]);
    await store.compact(T0 + 2 * DAY);
    await store.ingest(events.slice(100));
    const t = T0 + 95 * DAY;
    const before = await Promise.all(["c0", "c1", "c6"].map((c) => store.profile(c, t)));
    await store.close();
    store = await EmbeddedCustomerData.open(dir);
    expect(await Promise.all(["c0", "c1", "c6"].map((c) => store.profile(c, t)))).toEqual(before);
    expect(await store.horizon()).toBe(T0 + 92 * DAY);
    expect((await store.ingest(events.slice(150, 160))).every((r) => r.status === "duplicate")).toBe(true);
    await store.close();
  });

  it("a SIGKILL while ingesting loses no acknowledged event", async () => {
    const dir = tempDir();
    const acknowledged = await writeThenKill("test/helpers/customer-data-writer.ts", [dir], 20_000);
    const store = await EmbeddedCustomerData.open(dir);
    const again = Array.from({ length: acknowledged }, (_, k) => login(`c${(k + 1) % 97}`, `e${k + 1}`, T0 + (k + 1) * 1000));
    for (const b of batches(again, [999])) {
      const fresh = (await store.ingest(b)).filter((r) => r.status !== "duplicate");
      expect(fresh).toEqual([]);
    }
    await store.close();
  }, 60_000);
});
