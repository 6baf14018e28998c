// Pieces of a replicated deployment for test/cluster.test.ts, each a real process or server: one
// PostgreSQL that can be stopped and started again mid-test, replicas (`node dist/cli/main.js
// serve`), a webhook receiver that records every delivery and can be told to fail, and a load
// generator that records everything the clients were told.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./postgres-server.ts";

export { freePort };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value other than undefined, or throws `what` after `ms`. */
export async function waitFor<T>(what: string, ms: number, check: () => Promise<T | undefined> | T | undefined, everyMs = 100): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------------------
// Replicas

export interface ReplicaOptions {
  id: string;
  databaseUrl: string;
  webhookUrl: string;
  /** Kept across restarts of the same replica (a restarted pod keeps its volume). */
  dataDir?: string;
  port?: number;
}

export interface Replica {
  id: string;
  port: number;
  url: string;
  dataDir: string;
  /** Whether the process is still running. */
  alive(): boolean;
  kill(signal: NodeJS.Signals): Promise<void>;
  logTail(lines?: number): string;
}

/** `node dist/cli/main.js serve` with its own port, data folder and REPLICA_ID; resolves once /health/ready is 200. */
export async function startReplica(o: ReplicaOptions): Promise<Replica> {
  const port = o.port ?? (await freePort());
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), `cluster-${o.id}-`));
  const logFile = join(dataDir, `${o.id}.out`);
  const out = openSync(logFile, "a");
  // Only what the replica needs: nothing of the test runner's environment (API keys, ...) leaks in.
  const env = {
    PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: "info",
    HOST: "127.0.0.1", PORT: String(port), DATA_DIR: dataDir, REPLICA_ID: o.id, DATABASE_URL: o.databaseUrl, WEBHOOK_URL: o.webhookUrl,
  };
  const child: ChildProcess = spawn(process.execPath, ["dist/cli/main.js", "serve"], { env, stdio: ["ignore", out, out] });
  const url = `http://127.0.0.1:${port}`;
  const logTail = (lines = 20) => readFileSync(logFile, "utf8").trim().split("\n").slice(-lines).join("\n");
  const alive = () => child.exitCode === null && child.signalCode === null;
  await waitFor(`replica ${o.id} ready`, 30_000, async () => {
    if (!alive()) throw new Error(`replica ${o.id} exited (${child.exitCode ?? child.signalCode}):\n${logTail()}`);
    const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(1000) }).catch(() => null);
    return res?.status === 200 ? true : undefined;
  });
  return {
    id: o.id, port, url, dataDir, alive, logTail,
    async kill(signal) {
      if (!alive()) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill(signal);
      await exited;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Webhook receiver

export interface Delivery {
  key: string | undefined;
  body: any;
  at: number;
  /** What the receiver answered: 200, 503, or 0 when it held the request and dropped it. */
  status: number;
}

export type WebhookMode = "ok" | "fail" | "hang";

export interface Webhook {
  url: string;
  deliveries: Delivery[];
  /** ok: 200; fail: 503 at once; hang: no answer until the mode changes, then the connection is dropped. */
  setMode(mode: WebhookMode): void;
  close(): Promise<void>;
}

export async function startWebhook(): Promise<Webhook> {
  const deliveries: Delivery[] = [];
  let mode: WebhookMode = "ok";
  const held: { res: ServerResponse; d: Delivery }[] = [];
  const server: Server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body: any;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        body = Buffer.concat(chunks).toString("utf8");
      }
      const key = req.headers["idempotency-key"];
      const d: Delivery = { key: Array.isArray(key) ? key[0] : key, body, at: Date.now(), status: 0 };
      deliveries.push(d);
      if (mode === "hang") return void held.push({ res, d });
      d.status = mode === "ok" ? 200 : 503;
      res.writeHead(d.status, { "content-type": "application/json" }).end(mode === "ok" ? "{}" : '{"error":"webhook failing"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hook`,
    deliveries,
    setMode(m) {
      mode = m;
      // A held request never counts as delivered: its connection is dropped, the sender retries.
      for (const h of held.splice(0)) h.res.destroy();
    },
    async close() {
      for (const h of held.splice(0)) h.res.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Load

export interface Answer {
  path: "/predict" | "/outcomes";
  phase: string;
  /** HTTP status; 0 when no answer came (connection error or the client's timeout). */
  status: number;
  start: number;
  ms: number;
  servedBy: string | null;
  error?: string;
}

export interface Acked {
  prediction_id: string;
  customer_id: string;
  should_intervene: boolean;
  recommended_intervention: string | null;
  at: number;
  servedBy: string | null;
  phase: string;
}

export interface OutcomeAnswer {
  posted: { prediction_id: string; churned: boolean }[];
  matched: string[];
  unmatched: { index: number; reason: string }[];
  conflicts: { index: number; prediction_id: string; reason: string }[];
  servedBy: string | null;
  phase: string;
  /** When the request was sent (ms since the epoch). */
  sentAt: number;
}

/** A customer as /predict takes it, and whether they churned (for outcomes). */
export interface LoadCustomer {
  request: Record<string, unknown>;
  churned: boolean;
}

/**
 * A steady rate of requests through the balancer: /predict for random customers, and /outcomes
 * for predictions acknowledged at least `outcomeAgeMs` earlier (each prediction gets at most one
 * outcome, so a conflict is never the client's doing). Everything answered is recorded.
 */
export class Load {
  readonly answers: Answer[] = [];
  readonly acked: Acked[] = [];
  readonly outcomes: OutcomeAnswer[] = [];
  /** Outcomes sent in requests that got no 200: perhaps recorded (a replica died after its commit), perhaps not. */
  readonly unconfirmedOutcomes: string[] = [];
  phase = "start";
  private awaitingOutcome: Acked[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private inFlight = new Set<Promise<void>>();
  private issued = 0;
  private t0 = 0;

  constructor(
    private readonly url: string,
    private readonly customers: LoadCustomer[],
    private readonly o = { ratePerS: 100, outcomeShare: 0.2, outcomesPerRequest: 3, outcomeAgeMs: 100, timeoutMs: 10_000, maxInFlight: 200 },
  ) {}

  start(): void {
    this.t0 = performance.now();
    this.issued = 0;
    // Catches up after a stall of the event loop, but never by more than a short burst.
    this.timer = setInterval(() => {
      const due = Math.floor(((performance.now() - this.t0) * this.o.ratePerS) / 1000) - this.issued;
      for (let i = 0; i < Math.min(due, 10); i++) this.one();
      this.issued += Math.max(due, 0);
    }, 10);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.all([...this.inFlight]);
  }

  private one(): void {
    if (this.inFlight.size >= this.o.maxInFlight) return;
    const ripe = this.awaitingOutcome.findIndex((a) => Date.now() - a.at < this.o.outcomeAgeMs);
    const ready = ripe < 0 ? this.awaitingOutcome.length : ripe;
    const p = Math.random() < this.o.outcomeShare && ready > 0 ? this.postOutcomes(Math.min(ready, this.o.outcomesPerRequest)) : this.predict();
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async call(path: Answer["path"], body: unknown): Promise<{ a: Answer; json: any }> {
    const a: Answer = { path, phase: this.phase, status: 0, start: Date.now(), ms: 0, servedBy: null };
    const t = performance.now();
    let json: any;
    try {
      const res = await fetch(`${this.url}${path}`, {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(this.o.timeoutMs),
      });
      const text = await res.text();
      a.status = res.status;
      a.servedBy = res.headers.get("x-served-by");
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
      if (res.status !== 200) a.error = typeof json === "string" ? json.slice(0, 200) : JSON.stringify(json).slice(0, 200);
    } catch (err) {
      a.error = (err as Error).message;
    }
    a.ms = performance.now() - t;
    this.answers.push(a);
    return { a, json };
  }

  private async predict(): Promise<void> {
    const c = this.customers[Math.floor(Math.random() * this.customers.length)];
    const { a, json } = await this.call("/predict", c.request);
    if (a.status !== 200) return;
    const acked: Acked = {
      prediction_id: json.prediction_id, customer_id: json.customer_id, should_intervene: json.should_intervene,
      recommended_intervention: json.recommended_intervention, at: Date.now(), servedBy: a.servedBy, phase: a.phase,
    };
    this.acked.push(acked);
    this.awaitingOutcome.push(acked);
    this.churned.set(acked.prediction_id, c.churned);
  }

  private readonly churned = new Map<string, boolean>();

  private async postOutcomes(n: number): Promise<void> {
    const these = this.awaitingOutcome.splice(0, n);
    const posted = these.map((p) => ({ prediction_id: p.prediction_id, churned: this.churned.get(p.prediction_id)! }));
    const { a, json } = await this.call("/outcomes", { outcomes: posted });
    if (a.status !== 200) return void this.unconfirmedOutcomes.push(...posted.map((p) => p.prediction_id));
    this.outcomes.push({
      posted, matched: json.matched.map((m: { prediction_id: string }) => m.prediction_id), unmatched: json.unmatched, conflicts: json.conflicts,
      servedBy: a.servedBy, phase: a.phase, sentAt: a.start,
    });
  }
}
