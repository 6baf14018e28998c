// `churn serve`: the service on one port, until SIGTERM / SIGINT (graceful) — SIGHUP reloads
// the model bundle.
import { constants } from "node:fs";
import { access, mkdir } from "node:fs/promises";
import { CONFIG_HELP, ConfigError, loadConfig } from "../../server/config.ts";
import { startServer } from "../../server/http/server.ts";
import { UsageError } from "./common.ts";

const USAGE = `churn serve [--port N] [--host H] [--models DIR] [...]
  Every flag has an environment variable; flags win:
${CONFIG_HELP}`;

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
  await writable(config.dataDir);
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
