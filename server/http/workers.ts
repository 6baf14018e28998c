// WORKERS=N: N processes on one machine share the port (node:cluster), so one machine's cores
// serve. The primary only supervises: it forks the workers (each runs the ordinary server, and the
// primary hands each new connection to the next worker in turn), restarts one that dies, passes
// SIGTERM / SIGINT / SIGHUP on, and exits once the workers have finished.
import cluster, { type Worker } from "node:cluster";
import { AggregatorRegistry, type Registry } from "prom-client";
import type { Config } from "../config.ts";

/** The environment variable that tells a forked worker its number (1..N). */
const WORKER_ENV = "CHURN_WORKER";
/** Set for a worker started in place of one that died: the other workers are serving meanwhile. */
const REPLACEMENT_ENV = "CHURN_WORKER_REPLACEMENT";
/** Deaths before serving, in a row, after which the primary gives up (a configuration the workers cannot start with). */
export const START_ATTEMPTS = 3;
const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
/** A worker that served this long before dying starts the backoff again from its first step. */
const STABLE_MS = 30_000;

/** Why this configuration cannot run more than one worker; null when it can (or asks for one). */
export function workersRefusal(config: Config): string | null {
  if (config.workers <= 1) return null;
  if ("Deno" in globalThis) {
    return `WORKERS=${config.workers} (--workers): several processes on one port need Node's cluster module, which this service does not use under Deno; run one worker under Deno (WORKERS=1), or several replicas on their own ports behind a load balancer`;
  }
  if (!config.databaseUrl) {
    return `WORKERS=${config.workers} (--workers): the embedded store (prediction log, outbox, customer data in DATA_DIR ${config.dataDir}) belongs to one process; set DATABASE_URL to share state between workers, or run one worker (WORKERS=1)`;
  }
  return null;
}

/** This process's worker number when a `churn serve` primary forked it; undefined otherwise. */
export function workerNumber(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const n = Number(process.env[WORKER_ENV]);
  return Number.isInteger(n) && n >= 1 ? n : undefined;
}

/**
 * Whether this worker replaces one that died. The first workers listen at once, as one process
 * does (probes see "live, not ready" while the bundle loads); a replacement listens only once it
 * can serve, or the primary would hand it connections to answer 503 while the others could serve.
 */
export function isReplacement(): boolean {
  return process.env[REPLACEMENT_ENV] === "1";
}

/**
 * A worker's configuration: its own replica name. The default (host name-pid) already differs per
 * worker; an explicit REPLICA_ID gets `-w<N>`, so the workers' names stay distinct (and a worker
 * started again in the same place keeps its predecessor's name, as a restarted pod does).
 */
export function workerConfig(config: Config, n: number, defaultReplica: string): Config {
  return config.replicaId === defaultReplica ? config : { ...config, replicaId: `${config.replicaId}-w${n}` };
}

type Report =
  | { churn: "ready"; url: string; version: string; replica: string }
  | { churn: "failed"; message: string; code: number }
  | { churn: "metrics"; id: number };

/** The primary's answer to a worker's `metrics` request. */
type MetricsReply = { churn: "metrics"; id: number; text?: string; error?: string };

/**
 * In a worker: GET /metrics reaches whichever worker the primary handed the connection, so it
 * answers with every worker's series, gathered by the primary (prom-client's cluster aggregation;
 * each worker's carry its `replica` label, so none are summed together).
 */
export function gatherFromWorkers(registry: Registry): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one installs prom-client's listener that answers the primary's requests.
  new AggregatorRegistry();
  const waiting = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();
  let next = 0;
  process.on("message", (m: MetricsReply) => {
    if (m?.churn !== "metrics") return;
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.text !== undefined) w?.resolve(m.text);
    else w?.reject(new Error(`the workers' metrics could not be gathered: ${m.error}`));
  });
  return () => new Promise((resolve, reject) => {
    const id = ++next;
    const timer = setTimeout(() => {
      waiting.delete(id);
      reject(new Error("the workers' metrics were not gathered within 5 s"));
    }, 5000);
    waiting.set(id, { resolve: (t) => (clearTimeout(timer), resolve(t)), reject: (e) => (clearTimeout(timer), reject(e)) });
    process.send!({ churn: "metrics", id } satisfies Report);
  });
}

/** A worker tells its primary it serves (its handlers for signals are in place). */
export function reportReady(url: string, version: string, replica: string): void {
  process.send?.({ churn: "ready", url, version, replica } satisfies Report);
}

/** A worker that could not start tells its primary why, then exits with `code`. */
export function reportFailedAndExit(message: string, code: number): Promise<never> {
  return new Promise<never>(() => {
    const exit = () => process.exit(code);
    if (!process.send || !process.connected) return exit();
    process.send({ churn: "failed", message, code } satisfies Report, undefined, undefined, exit);
  });
}

interface Slot {
  n: number;
  worker?: Worker;
  pid?: number;
  replica?: string;
  ready: boolean;
  readyAt: number;
  /** What the worker said when it could not start. */
  error?: string;
  /** Deaths before serving, in a row. */
  startFailures: number;
  /** Deaths soon after starting, in a row: the backoff's step. */
  crashes: number;
  /** Workers started in this place so far. */
  forks: number;
  timer?: NodeJS.Timeout;
}

export interface PrimaryOutput {
  out(line: string): void;
  err(line: string): void;
}

/**
 * Runs the primary of `count` workers until they have all exited after a SIGTERM / SIGINT (0 when
 * each finished cleanly), or until one of them could not start START_ATTEMPTS times in a row (its
 * exit code). Resolves with the exit code; the caller exits.
 */
export function runPrimary(count: number, io: PrimaryOutput = { out: (l) => console.log(l), err: (l) => console.error(l) }): Promise<number> {
  return new Promise<number>((resolve) => {
    const slots: Slot[] = Array.from({ length: count }, (_, i) => ({ n: i + 1, ready: false, readyAt: 0, startFailures: 0, crashes: 0, forks: 0 }));
    const metrics = new AggregatorRegistry();
    let stopping: NodeJS.Signals | "give up" | null = null;
    let exitCode = 0;
    let announced = false;
    const how = (code: number | null, signal: string | null) => (code !== null ? `exit code ${code}` : `signal ${signal}`);
    const live = () => slots.filter((s) => s.worker);
    const finishIfDone = () => {
      if (stopping && live().length === 0) {
        for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.removeListener(signal, onSignal[signal]);
        resolve(exitCode);
      }
    };

    const fork = (slot: Slot) => {
      slot.timer = undefined;
      slot.ready = false;
      slot.error = undefined;
      slot.replica = undefined;
      const worker = cluster.fork({ [WORKER_ENV]: String(slot.n), [REPLACEMENT_ENV]: slot.forks++ > 0 ? "1" : "0" });
      slot.worker = worker;
      slot.pid = worker.process.pid;
      worker.on("message", (m: Report) => {
        if (m?.churn === "metrics") {
          const reply = (r: Omit<MetricsReply, "churn" | "id">) => worker.isConnected() && worker.send({ churn: "metrics", id: m.id, ...r } satisfies MetricsReply);
          metrics.clusterMetrics().then((text) => reply({ text }), (err: Error) => reply({ error: err.message }));
        } else if (m?.churn === "failed") {
          slot.error = m.message;
        } else if (m?.churn === "ready") {
          slot.ready = true;
          slot.readyAt = Date.now();
          slot.startFailures = 0;
          slot.replica = m.replica;
          io.out(`worker ${slot.n} (pid ${slot.pid}, replica ${m.replica}) serving`);
          if (stopping) {
            // Started while the others were being stopped: stopped too.
            worker.process.kill("SIGTERM");
          } else if (!announced && slots.every((s) => s.ready)) {
            announced = true;
            io.out(`churn service ${m.version} listening on ${m.url} (console: ${m.url}/console), ${count} workers`);
          }
        }
      });
      worker.on("exit", (code, signal) => {
        const wasReady = slot.ready;
        slot.worker = undefined;
        slot.ready = false;
        const who = `worker ${slot.n} (pid ${slot.pid}${slot.replica ? `, replica ${slot.replica}` : ""})`;
        if (stopping) {
          // A worker stopped while starting dies of the signal; one that served finishes and exits 0.
          if (code !== 0 && !(code === null && !wasReady)) {
            exitCode ||= 1;
            io.err(`${who} ended with ${how(code, signal)} while stopping`);
          }
          return finishIfDone();
        }
        if (!wasReady) {
          slot.startFailures++;
          if (slot.startFailures >= START_ATTEMPTS) {
            io.err(`${who} could not start (${how(code, signal)}), ${slot.startFailures} times in a row; giving up${slot.error ? `: ${slot.error}` : ""}`);
            exitCode = code || 1;
            return stopAll("give up");
          }
          const delay = FIRST_BACKOFF_MS * 2 ** (slot.startFailures - 1);
          io.err(`${who} could not start (${how(code, signal)})${slot.error ? `: ${slot.error}` : ""}; trying again in ${delay / 1000} s`);
          slot.timer = setTimeout(() => fork(slot), delay);
          return;
        }
        slot.crashes = Date.now() - slot.readyAt < STABLE_MS ? slot.crashes + 1 : 1;
        const delay = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (slot.crashes - 1));
        io.err(`${who} died (${how(code, signal)}); starting another in ${delay / 1000} s`);
        slot.timer = setTimeout(() => fork(slot), delay);
      });
    };

    const stopAll = (why: NodeJS.Signals | "give up") => {
      stopping = why;
      for (const slot of slots) {
        clearTimeout(slot.timer);
        slot.timer = undefined;
        // The workers drain on SIGTERM / SIGINT; a worker still starting dies of it, having served nobody.
        slot.worker?.process.kill(why === "give up" ? "SIGTERM" : why);
      }
      finishIfDone();
    };

    const onSignal = {
      SIGTERM: () => onStop("SIGTERM"),
      SIGINT: () => onStop("SIGINT"),
      // Each serving worker reloads its bundle; one still starting loads the current one anyway.
      SIGHUP: () => {
        for (const slot of slots) if (slot.ready) slot.worker?.process.kill("SIGHUP");
      },
    };
    const onStop = (signal: NodeJS.Signals) => {
      if (stopping) {
        // A second signal: as for one process, the stop is no longer graceful.
        io.err(`${signal} again: killing the workers`);
        exitCode ||= 1;
        for (const slot of live()) slot.worker?.process.kill("SIGKILL");
        return;
      }
      io.out(`${signal}: stopping ${live().length} workers, each finishing its in-flight requests`);
      stopAll(signal);
    };
    for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, onSignal[signal]);

    for (const slot of slots) fork(slot);
  });
}
