// `churn serve`: the service on one port, until SIGTERM / SIGINT (graceful) — SIGHUP reloads
// the model bundle.
import { CONFIG_HELP, ConfigError, loadConfig } from "../../server/config.ts";
import { startServer } from "../../server/http/server.ts";
import { UsageError } from "./common.ts";

const USAGE = `churn serve [--port N] [--host H] [--models DIR] [...]
  Every flag has an environment variable; flags win:
${CONFIG_HELP}`;

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
