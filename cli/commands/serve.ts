// `churn serve`: the service on one port, until SIGTERM / SIGINT (graceful) — SIGHUP reloads
// the model bundle. With WORKERS=N (N > 1) this process is the primary of N worker processes
// sharing the port (server/http/workers.ts), and each worker runs the server as below.
import { constants } from "node:fs";
import { access, mkdir } from "node:fs/promises";
import { CONFIG_HELP, ConfigError, loadConfig, type Config } from "../../server/config.ts";
import { defaultReplica } from "../../server/contract/ids.ts";
import { createApp } from "../../server/app.ts";
import { startServer } from "../../server/http/server.ts";
import { gatherFromWorkers, isReplacement, reportFailedAndExit, reportReady, runPrimary, START_ATTEMPTS, workerConfig, workerNumber, workersRefusal } from "../../server/http/workers.ts";
import { UsageError } from "./common.ts";

const USAGE = `churn serve [--port N] [--host H] [--models DIR] [--workers N] [...]
  Every flag has an environment variable; flags win:
${CONFIG_HELP}

  --workers N (WORKERS=N): N processes on this machine share the port, so its cores serve (Node
  only; needs DATABASE_URL, since the embedded store in DATA_DIR belongs to one process). The
  first process supervises: it names each worker as it starts ("worker 2 (pid P, replica R)
  serving") and says "listening on" once, when every worker serves; it passes SIGTERM, SIGINT
  and SIGHUP on to the workers and exits once they have finished; it starts another worker in
  place of one that dies (said on stderr, waiting longer each time if they keep dying), and gives
  up, exiting with the worker's error, when one cannot start ${START_ATTEMPTS} times in a row. An explicit
  REPLICA_ID becomes REPLICA_ID-w1 .. REPLICA_ID-wN (by default each worker has its host
  name-pid). DATABASE_POOL_SIZE and MAX_CONNECTIONS are per worker.`;

/** The data folder must be writable by this process: said before listening, not found out after. */
async function writable(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (err) {
    const uid = process.getuid?.();
    throw new UsageError(`DATA_DIR ${dir} is not writable${uid === undefined ? "" : ` by uid ${uid}`}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (permission denied); the prediction log, the outbox and the customer store live there`);
  }
}

export async function serve(argv: string[]): Promise<void> {
  if (argv.includes("--help")) {
    console.log(USAGE);
    return;
  }
  let config;
  try {
    config = loadConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`${err.message}\n\n${USAGE}`);
    throw err;
  }
  const worker = workerNumber();
  if (worker !== undefined) return serveAsWorker(workerConfig(config, worker, defaultReplica()), worker);
  const refusal = workersRefusal(config);
  if (refusal) throw new UsageError(refusal);
  await writable(config.dataDir);
  if (config.workers > 1) process.exit(await runPrimary(config.workers));
  const server = await startServer(config);
  console.log(`churn service ${server.app.service.health().model_version} listening on ${server.url} (console: ${server.url}/console)`);
  const stop = (signal: string) => {
    console.log(`${signal}: finishing in-flight requests`);
    server.close().then(
      () => process.exit(0),
      (err) => {
        console.error(`shutdown failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  process.on("SIGHUP", () => {
    server.app.service.reload().then(
      ({ version }) => console.log(`reloaded bundle ${version}`),
      (err) => console.error(`reload refused, the old bundle keeps serving: ${(err as Error).message}`),
    );
  });
}

/**
 * One worker of a primary: the same server, its lines marked with its number. A failure to start
 * is told to the primary (which decides whether to try again) rather than printed here.
 */
async function serveAsWorker(config: Config, n: number): Promise<void> {
  // A replacement takes connections only once it can serve (the other workers serve meanwhile).
  const start = async () => startServer(config, isReplacement() ? await createApp(config) : undefined);
  const server = await start().catch((err) => reportFailedAndExit((err as Error).message, err instanceof UsageError ? 2 : 1));
  server.app.metrics.gatherWith(gatherFromWorkers(server.app.metrics.registry));
  let stopping = false;
  // Ctrl-C reaches the workers both from the terminal and from the primary: one stop, however many signals.
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`worker ${n}: ${signal}: finishing in-flight requests`);
    server.close().then(
      () => process.exit(0),
      (err) => {
        console.error(`worker ${n}: shutdown failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGHUP", () => {
    server.app.service.reload().then(
      ({ version }) => console.log(`worker ${n}: reloaded bundle ${version}`),
      (err) => console.error(`worker ${n}: reload refused, the old bundle keeps serving: ${(err as Error).message}`),
    );
  });
  reportReady(server.url, server.app.service.health().model_version ?? "unknown", config.replicaId);
}
