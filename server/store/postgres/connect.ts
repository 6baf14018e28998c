// One connection pool per process for every PostgreSQL-backed concern, migrated before use, and
// what the service needs to know of it: whether the database can be reached. A query that finds
// the database gone becomes a 503 (UnavailableError) and marks it down; while down, queries are
// refused at once instead of each waiting on a connection, and a ping every second brings it
// back up as soon as the database answers again: no restart.
import postgres, { type Sql } from "postgres";
import { UnavailableError } from "../../contract/errors.ts";
import { migrate } from "./migrations.ts";

export interface PostgresOptions {
  /**
   * Connections in the pool. Default 10 (the client's own default): queries are short, and nine
   * replicas of 10 stay under PostgreSQL's default max_connections (100); more replicas (or
   * workers: each has its own pool) want a smaller pool or a pooler in front.
   */
  poolSize?: number;
  /** How long a request's query may take before it is answered 503 instead (2 s). */
  queryTimeoutMs?: number;
  /** How often the database is pinged to tell whether it is there (1 s). */
  pingMs?: number;
}

/** Errors that mean the database is not there (the connection, or the server shutting down), as opposed to a bad query. */
const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "EAI_AGAIN", "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "CONNECT_TIMEOUT"]);

export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== "string") return false;
  // SQLSTATE class 08 (connection exception), 57P0x (shutdown, cannot connect now), 53300 (too many connections).
  return CONNECTION_CODES.has(code) || code.startsWith("08") || code.startsWith("57P0") || code === "53300";
}

/** `promise`, or a connection-class error once `ms` have passed without it settling. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer from the database within ${ms} ms`), { code: "ETIMEDOUT" })), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

export class Database {
  private down: Error | null = null;
  private readonly timer: ReturnType<typeof setInterval>;

  private constructor(
    readonly sql: Sql,
    private readonly o: Required<PostgresOptions>,
  ) {
    this.timer = setInterval(() => void this.ping(), o.pingMs);
    this.timer.unref?.();
  }

  /** A pool on `url` (a postgres:// connection string) with the schema migrated. */
  static async connect(url: string, options: PostgresOptions = {}): Promise<Database> {
    const o = { poolSize: 10, queryTimeoutMs: 2000, pingMs: 1000, ...options };
    const sql = postgres(url, { max: o.poolSize, connect_timeout: 5, onnotice: () => {} });
    try {
      await migrate(sql);
      // Connections opened now rather than by the first requests (whose answers would wait on them).
      await Promise.all(Array.from({ length: Math.min(o.poolSize, 4) }, () => sql`SELECT 1`));
    } catch (err) {
      await sql.end({ timeout: 1 });
      throw err;
    }
    return new Database(sql, o);
  }

  /** Why the database cannot be used now; null while it can. */
  get error(): Error | null {
    return this.down;
  }

  /**
   * A request's query: refused at once while the database is down, bounded in time, and a lost
   * connection turned into a 503 that marks the database down.
   */
  async run<T>(query: (sql: Sql) => Promise<T>, timeoutMs = this.o.queryTimeoutMs): Promise<T> {
    if (this.down) throw this.unavailable(this.down);
    try {
      return await within(query(this.sql), timeoutMs);
    } catch (err) {
      if (!isConnectionError(err)) throw err;
      this.markDown(err as Error);
      // A connection the restarted server no longer knows fails once; the ping says at once whether the database is there.
      void this.ping();
      throw this.unavailable(err as Error);
    }
  }

  private markDown(err: Error): void {
    if (!this.down) console.error(`database unreachable: ${err.message}`);
    this.down = err;
  }

  private unavailable(err: Error): UnavailableError {
    return new UnavailableError(`the database is unreachable (${err.message}), so nothing that needs it is done until it is back`, 2);
  }

  /** Up as soon as the database answers; down when it does not. */
  private async ping(): Promise<void> {
    try {
      await within(this.sql`SELECT 1`, this.o.pingMs * 2);
      if (this.down) console.error("database reachable again");
      this.down = null;
    } catch (err) {
      this.markDown(err as Error);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.sql.end({ timeout: 5 });
  }
}
