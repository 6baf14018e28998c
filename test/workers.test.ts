// WORKERS=N: `churn serve` (the built dist/cli/main.js) as N real processes on one port, with a
// real PostgreSQL for their shared state: refused without it, connections spread over the
// workers, a worker killed -9 replaced while the port keeps answering, signals passed on.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { request } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { waitFor } from "./helpers/cluster.ts";
import { denoCommand } from "./helpers/deno.ts";
import { usePostgres } from "./helpers/postgres.ts";
import { SEED_REQUEST } from "./helpers/server.ts";

const pg = usePostgres();

/** The environment of a test's `churn serve`: no DATABASE_URL, WORKERS or REPLICA_ID from outside. */
function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const { DATABASE_URL: _d, WORKERS: _w, REPLICA_ID: _r, ...rest } = process.env;
  return { ...rest, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "off", DATA_DIR: mkdtempSync(join(tmpdir(), "workers-")), ...extra };
}

interface Serve {
  child: ChildProcess;
  out(): string;
  err(): string;
  /** Resolves with the match once stdout (or stderr) has a line matching `re`. */
  line(re: RegExp, ms?: number, stream?: "out" | "err"): Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function serve(extra: Record<string, string>): Serve {
  const child = spawn(process.execPath, ["dist/cli/main.js", "serve"], { env: env(extra), stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return {
    child,
    out: () => out,
    err: () => err,
    line: (re, ms = 60_000, stream = "out") =>
      waitFor(`${re} on ${stream}\n--- stdout\n${out}\n--- stderr\n${err}`, ms, () => re.exec(stream === "out" ? out : err) ?? undefined, 50),
    exited,
  };
}

/** One request on a connection of its own, so that the primary hands each to the next worker. */
function call(url: string, method: "GET" | "POST", path: string, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(`${url}${path}`, { method, agent: false, headers: payload ? { "content-type": "application/json" } : {} }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end(payload);
  });
}

async function replicasSeen(url: string, calls: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < calls; i++) {
    const { status, body } = await call(url, "GET", "/health");
    expect(status, JSON.stringify(body)).toBe(200);
    seen.set(body.replica, (seen.get(body.replica) ?? 0) + 1);
  }
  return seen;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const SERVING = /worker (\d+) \(pid (\d+), replica (\S+)\) serving/g;
const serving = (out: string) => [...out.matchAll(SERVING)].map((m) => ({ n: Number(m[1]), pid: Number(m[2]), replica: m[3] }));

describe("churn serve with WORKERS", () => {
  it("refuses more than one worker on the embedded store, before anything listens, as a usage error", async () => {
    // The port is taken: a process that got as far as listening would fail on it (exit code 1,
    // EADDRINUSE) instead of refusing with exit code 2.
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      for (const [extra, args] of [[{ WORKERS: "2" }, []], [{}, ["--workers", "2"]]] as const) {
        const r = spawnSync(process.execPath, ["dist/cli/main.js", "serve", ...args], { env: env({ ...extra, PORT: String(port) }), encoding: "utf8", timeout: 30_000 });
        expect(r.status, r.stderr).toBe(2);
        expect(r.stderr).toMatch(/the embedded store \(prediction log, outbox, customer data in DATA_DIR .*\) belongs to one process; set DATABASE_URL to share state between workers, or run one worker/);
        expect(r.stderr).not.toMatch(/EADDRINUSE/);
        expect(r.stdout).not.toMatch(/listening|serving/);
      }
    } finally {
      taken.close();
    }
  });

  it("refuses more than one worker under Deno, as a usage error", () => {
    const [deno, args] = denoCommand(["cli/main.ts", "serve"]);
    const r = spawnSync(deno, args, { env: env({ WORKERS: "2", DATABASE_URL: "postgres://nobody@127.0.0.1:1/none", NO_COLOR: "1" }), encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/WORKERS=2 \(--workers\): several processes on one port need Node's cluster module, which this service does not use under Deno/);
  }, 90_000);

  it("N workers share the port: each its own replica, predictions served, one killed -9 replaced while the port answers, SIGTERM stops all", async () => {
    const s = serve({ WORKERS: "2", DATABASE_URL: await pg.freshDatabase() });
    try {
      const url = (await s.line(/listening on (http:\/\/\S+) \(console: \S+\), 2 workers/))[1];
      const workers = serving(s.out());
      expect(workers.map((w) => w.n).sort()).toEqual([1, 2]);
      // REPLICA_ID unset: each worker's default name, host name-pid, its own.
      for (const w of workers) expect(w.replica).toMatch(new RegExp(`-${w.pid}$`));

      const seen = await replicasSeen(url, 20);
      expect([...seen.keys()].sort()).toEqual(workers.map((w) => w.replica).sort());

      for (let i = 0; i < 6; i++) {
        const { status, body } = await call(url, "POST", "/predict", { ...SEED_REQUEST, customer_id: `W-${i}` });
        expect(status, JSON.stringify(body)).toBe(200);
        expect(body.customer_id).toBe(`W-${i}`);
        expect(body.churn_probability).toBeGreaterThan(0);
      }

      const [victim, survivor] = workers;
      process.kill(victim.pid, "SIGKILL");
      await s.line(new RegExp(`worker ${victim.n} \\(pid ${victim.pid}, replica \\S+\\) died \\(signal SIGKILL\\); starting another`), 10_000, "err");
      // Meanwhile the survivor takes every connection.
      expect([...(await replicasSeen(url, 10)).keys()]).toEqual([survivor.replica]);
      const replacement = await waitFor("a replacement worker", 30_000, () => serving(s.out()).find((w) => w.n === victim.n && w.pid !== victim.pid));
      expect(alive(victim.pid)).toBe(false);
      expect([...(await replicasSeen(url, 20)).keys()].sort()).toEqual([survivor.replica, replacement.replica].sort());
      expect((await call(url, "POST", "/predict", { ...SEED_REQUEST, customer_id: "W-after" })).status).toBe(200);

      const t0 = Date.now();
      s.child.kill("SIGTERM");
      expect(await s.exited).toEqual({ code: 0, signal: null });
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(s.out()).toMatch(/SIGTERM: stopping 2 workers/);
      expect(s.out()).toMatch(/worker 1: SIGTERM: finishing in-flight requests/);
      expect(s.out()).toMatch(/worker 2: SIGTERM: finishing in-flight requests/);
      for (const w of [survivor, replacement]) expect(alive(w.pid)).toBe(false);
      expect(await call(url, "GET", "/health").then(() => "answered", () => "refused")).toBe("refused");
    } finally {
      s.child.kill("SIGKILL");
    }
  }, 120_000);

  it("an explicit REPLICA_ID is suffixed per worker; SIGHUP reloads every worker; SIGINT stops them", async () => {
    const s = serve({ WORKERS: "2", DATABASE_URL: await pg.freshDatabase(), REPLICA_ID: "api" });
    try {
      const url = (await s.line(/listening on (http:\/\/\S+)/))[1];
      expect(serving(s.out()).map((w) => w.replica).sort()).toEqual(["api-w1", "api-w2"]);
      expect([...(await replicasSeen(url, 20)).keys()].sort()).toEqual(["api-w1", "api-w2"]);
      // A scrape reaches one worker and answers for both: each one's series under its replica label.
      for (let i = 0; i < 4; i++) await call(url, "POST", "/predict", { ...SEED_REQUEST, customer_id: `M-${i}` });
      for (let scrape = 0; scrape < 3; scrape++) {
        const text = await (await fetch(`${url}/metrics`)).text();
        const served = [...text.matchAll(/^churn_requests_total\{operation="predict",replica="(api-w\d)"\} (\d+)$/gm)];
        expect(served.map((m) => m[1]).sort()).toEqual(["api-w1", "api-w2"]);
        expect(served.reduce((sum, m) => sum + Number(m[2]), 0)).toBe(4);
      }
      s.child.kill("SIGHUP");
      await s.line(/worker 1: reloaded bundle/, 30_000);
      await s.line(/worker 2: reloaded bundle/, 30_000);
      s.child.kill("SIGINT");
      expect(await s.exited).toEqual({ code: 0, signal: null });
      expect(s.err()).not.toMatch(/died|could not start/);
    } finally {
      s.child.kill("SIGKILL");
    }
  }, 120_000);

  it("gives up, with the workers' error, when they cannot start", async () => {
    const s = serve({ WORKERS: "2", DATABASE_URL: await pg.freshDatabase(), MODELS_DIR: join(tmpdir(), "no-such-models-folder") });
    try {
      const { code } = await s.exited;
      expect(code).toBe(1);
      expect(s.err()).toMatch(/could not start \(exit code 1\): manifest\.json: cannot read: ENOENT; trying again in 0\.5 s/);
      expect(s.err()).toMatch(/could not start \(exit code 1\), 3 times in a row; giving up: manifest\.json: cannot read: ENOENT/);
      expect(s.out()).not.toMatch(/listening on|serving/);
    } finally {
      s.child.kill("SIGKILL");
    }
  }, 60_000);
});
