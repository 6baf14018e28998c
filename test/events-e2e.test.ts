// Trigger events and customer profiles end to end (DESIGN section 8), on the real server with the
// embedded store and with PostgreSQL: events that rebuild the bundled sample customers' fields,
// predict by id equal to predict with the same fields inline (bit for bit), a triggering event
// equal to a predict at its instant, unknown customers 404, bad events 400 with nothing applied.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChurnClient } from "churn-intervention/client";
import type { PredictResponse } from "../server/contract/api.ts";
import type { CustomerEvent } from "../server/contract/events.ts";
import type { RunningServer } from "../server/http/server.ts";
import { FIELDS, sampleRecords } from "./helpers/customers.ts";
import { usePostgres } from "./helpers/postgres.ts";
import { post, testServer } from "./helpers/server.ts";

const DAY = 86_400_000;
const T0 = Date.parse("2026-11-01T00:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString();
const num = (s: string) => (s === "" ? undefined : Number(s));

/** Events that give a sample customer's CSV fields at T0, where events can express them. */
function eventsFor(rec: Record<string, string>, prefix: string): CustomerEvent[] {
  const id = `${prefix}${rec.customer_id}`;
  const out: CustomerEvent[] = [];
  const add = (type: CustomerEvent["type"], at: number, extra: object = {}) =>
    out.push({ event_id: `${id}-${out.length}`, customer_id: id, type, at: iso(at), trigger: false, ...extra } as CustomerEvent);
  add("signup", T0 - Number(rec.tenure) * 30 * DAY - 3_600_000);
  add("profile", T0 - DAY, {
    contract_type: rec.contract_type, internet_service: rec.internet_service, payment_method: rec.payment_method,
    paperless_billing: rec.paperless_billing === "1", senior_citizen: rec.senior_citizen === "1",
    num_services: Number(rec.num_services), monthly_charges: Number(rec.monthly_charges),
  });
  if (rec.total_charges !== "") add("billing", T0 - 100 * DAY, { amount: Number(rec.total_charges) });
  for (let k = 0; k < Number(rec.late_payments_90d); k++) add("billing", T0 - (k + 1) * DAY, { amount: 0, paid_late: true });
  const logins = Number(rec.logins_30d);
  const since = num(rec.days_since_last_login);
  const latest = since === undefined ? T0 - 3_600_000 : T0 - since * DAY - 3_600_000;
  for (let k = 0; k < logins; k++) add("login", latest - k * 60_000);
  if (logins === 0 && since !== undefined) add("login", latest);
  for (let k = 0; k < Number(rec.support_tickets_30d); k++) add("support_ticket", T0 - (k + 1) * 3_600_000);
  if (rec.usage_change_30d !== "") {
    add("usage", T0 - 45 * DAY, { amount: 1 });
    add("usage", T0 - 2 * DAY, { amount: 1 + Number(rec.usage_change_30d) });
  }
  return out;
}

/**
 * Whether events can give the row's fields at all: the synthetic data holds pairs no event stream
 * gives (logins counted in the last 30 days but no last login, or the last login within 30 days
 * and none counted; late payments but no total). For those the profile says what the events say.
 */
function expressible(rec: Record<string, string>): boolean {
  const logins = Number(rec.logins_30d);
  const since = num(rec.days_since_last_login);
  if (logins > 0 && (since === undefined || since >= 30)) return false;
  if (logins === 0 && since !== undefined && since < 30) return false;
  return !(rec.total_charges === "" && Number(rec.late_payments_90d) > 0);
}

/** What a response says about the customer, without what differs per call. */
const decision = (r: PredictResponse) => {
  const { prediction_id: _p, latency_ms: _l, customer_id: _c, ...rest } = r;
  return rest;
};

for (const store of ["embedded", "postgres"] as const) {
  describe(`events and profiles (${store} store)`, () => {
    const pg = store === "postgres" ? usePostgres() : undefined;
    let server: RunningServer;
    const records = sampleRecords().slice(0, store === "embedded" ? 400 : 150);

    beforeAll(async () => {
      server = await testServer(pg ? ["--database-url", await pg.freshDatabase()] : []);
      const events = records.flatMap((r) => eventsFor(r, ""));
      for (let i = 0; i < events.length; i += 5000) {
        const { status, body } = await post(`${server.url}/events`, { events: events.slice(i, i + 5000) });
        expect(status).toBe(200);
        expect(body.predictions).toEqual([]);
      }
    }, 120_000);

    afterAll(async () => {
      await server?.close();
    });

    it("rebuilds the sample customers' fields from events", async () => {
      let exact = 0;
      for (const rec of records) {
        const { fields } = await (await fetch(`${server.url}/customers/${encodeURIComponent(rec.customer_id)}?as_of=${iso(T0)}`)).json();
        const want: Record<string, unknown> = {};
        for (const f of FIELDS) want[f] = rec[f] === "" ? undefined : Number.isNaN(Number(rec[f])) ? rec[f] : Number(rec[f]);
        const got = Object.fromEntries(FIELDS.map((f) => [f, fields[f].source === "imputed" ? undefined : fields[f].value]));
        expect(got.usage_change_30d ?? 0).toBeCloseTo((want.usage_change_30d as number | undefined) ?? 0, 12);
        const same = FIELDS.filter((f) => f !== "usage_change_30d").every((f) => got[f] === want[f]);
        if (expressible(rec)) {
          expect(same, rec.customer_id).toBe(true);
          exact++;
        }
        for (const f of ["tenure", "monthly_charges", "contract_type", "payment_method", "num_services", "support_tickets_30d"]) expect(got[f], `${rec.customer_id} ${f}`).toEqual(want[f]);
      }
      expect(exact / records.length).toBeGreaterThan(0.9);
    });

    it("scores a customer by id exactly as with the profile's fields inline", async () => {
      for (const rec of records.slice(0, 100)) {
        const options = { as_of: iso(T0), dry_run: true, include_alternatives: true };
        const { fields } = await (await fetch(`${server.url}/customers/${rec.customer_id}?as_of=${iso(T0)}`)).json();
        const inline = Object.fromEntries(Object.entries(fields as Record<string, { value: unknown; source: string }>).filter(([, v]) => v.source !== "imputed").map(([k, v]) => [k, v.value]));
        const byId = await post(`${server.url}/predict`, { customer_id: rec.customer_id, options });
        const withFields = await post(`${server.url}/predict`, { customer_id: `inline-${rec.customer_id}`, ...inline, options });
        expect(byId.status).toBe(200);
        expect(decision(byId.body)).toEqual(decision(withFields.body));
      }
    });

    it("a triggering event answers with the prediction a predict at its instant gives", async () => {
      const rec = records.find((r) => Number(r.tenure) < 6 && r.contract_type === "Month-to-month")!;
      for (const prefix of ["A-", "B-"]) {
        const r = await post(`${server.url}/events`, { events: eventsFor(rec, prefix) });
        expect(r.status).toBe(200);
      }
      const at = iso(T0 + 3_600_000);
      const triggered = await post(`${server.url}/events`, { event_id: "A-login", customer_id: `A-${rec.customer_id}`, type: "login", at });
      expect(triggered.status).toBe(200);
      expect(triggered.body.results).toEqual([{ event_id: "A-login", status: "applied" }]);
      expect(triggered.body.predictions).toHaveLength(1);
      // Twin B gets the same login without a trigger, then a predict at that instant.
      await post(`${server.url}/events`, { event_id: "B-login", customer_id: `B-${rec.customer_id}`, type: "login", at, trigger: false });
      const twin = await post(`${server.url}/predict`, { customer_id: `B-${rec.customer_id}`, options: { as_of: at } });
      expect(decision(triggered.body.predictions[0])).toEqual(decision(twin.body));
      // Applied once: the same event again is a duplicate and scores nothing.
      const again = await post(`${server.url}/events`, { event_id: "A-login", customer_id: `A-${rec.customer_id}`, type: "login", at });
      expect(again.body).toEqual({ results: [{ event_id: "A-login", status: "duplicate" }], predictions: [] });
    });

    it("a customer it knows nothing about is a 404, over REST and tRPC", async () => {
      const r = await post(`${server.url}/predict`, { customer_id: "nobody" });
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe("NOT_FOUND");
      expect((await fetch(`${server.url}/customers/nobody`)).status).toBe(404);
      const client = createChurnClient(server.url);
      await expect(client.customers.get.query({ customer_id: "nobody" })).rejects.toMatchObject({ data: { code: "NOT_FOUND" } });
      await expect(client.predict.mutate({ customer_id: "nobody" })).rejects.toMatchObject({ data: { code: "NOT_FOUND" } });
      client.close();
    });

    it("bad events are a 400 by field path, and nothing of their batch is applied", async () => {
      const good = { event_id: "g1", customer_id: "fresh", type: "signup", at: iso(T0) };
      const r = await post(`${server.url}/events`, {
        events: [good, { event_id: "b1", customer_id: "fresh", type: "teleport", at: iso(T0) }, { event_id: "b2", customer_id: "fresh", type: "billing", at: "yesterday", amount: -1 }],
      });
      expect(r.status).toBe(400);
      const paths = r.body.error.issues.map((i: { path: (string | number)[] }) => i.path.join("."));
      expect(paths).toEqual(expect.arrayContaining(["events.1.type", "events.2.at", "events.2.amount"]));
      expect((await fetch(`${server.url}/customers/fresh`)).status).toBe(404);
      const single = await post(`${server.url}/events`, { event_id: "b3", customer_id: "fresh", type: "usage", at: iso(T0) });
      expect(single.status).toBe(400);
      expect(single.body.error.issues.map((i: { path: string[] }) => i.path.join("."))).toEqual(["amount"]);
    });

    it("request fields override the profile; the profile tells each field's source", async () => {
      const id = records[0].customer_id;
      const res = await (await fetch(`${server.url}/customers/${id}?as_of=${iso(T0)}`)).json();
      expect(res.fields.tenure.source).toBe("events");
      const withTenure = await post(`${server.url}/predict`, { customer_id: id, tenure: 70, options: { as_of: iso(T0), dry_run: true } });
      const inline = await post(`${server.url}/predict`, { customer_id: "x", ...Object.fromEntries(Object.entries(res.fields as Record<string, { value: unknown; source: string }>).filter(([, v]) => v.source !== "imputed").map(([k, v]) => [k, v.value])), tenure: 70, options: { as_of: iso(T0), dry_run: true } });
      expect(withTenure.body.churn_probability).toBe(inline.body.churn_probability);
    });
  });
}

describe("customer tables", () => {
  it("CUSTOMERS_FILE is imported at start: its rows are the store source of a profile", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "customers-")), "customers.csv");
    writeFileSync(file, "customer_id,tenure,monthly_charges,contract_type,extra\nW1,14,55.5,One year,ignored\nW2,oops,1,Two year,x\n");
    const server = await testServer(["--customers", file]);
    try {
      const res = await (await fetch(`${server.url}/customers/W1`)).json();
      expect(res.fields.tenure).toEqual({ value: 14, source: "store" });
      expect(res.fields.contract_type).toEqual({ value: "One year", source: "store" });
      expect(res.fields.total_charges.source).toBe("imputed");
      expect((await fetch(`${server.url}/customers/W2`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
