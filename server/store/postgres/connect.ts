// One connection pool per process for every PostgreSQL-backed concern, migrated before use, and
// what the service needs to know of it: whether the database can be reached. A query that finds
// the database gone becomes a 503 (UnavailableError) and marks it down; while down, queries are
// refused at once instead of each waiting on a connection, and a ping every second brings it
// back up as soon as the database answers again: no restart.
import postgres, { type Sql, type TransactionSql } from "postgres";
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

/**
 * A batch of rows as one statement's record set: `SELECT ... FROM ${recordset(sql, rows)} AS
 * x(col type, ...)`. The rows go as one JSON text parameter cast to json, which PostgreSQL only
 * checks (no jsonb parse of the whole batch); the column list converts each field.
 */
export function recordset(sql: Sql | TransactionSql, rows: readonly object[]) {
  return sql`json_to_recordset(${JSON.stringify(rows)}::text::json)`;
}

/** A list of texts the same way, as a set of rows: `... IN (SELECT ${texts(sql, ids)})`, `FROM ${texts(sql, ids)} AS x(id)`. */
export function texts(sql: Sql | TransactionSql, values: readonly string[]) {
  return sql`json_array_elements_text(${JSON.stringify(values)}::text::json)`;
}

// fetch_types off: the driver would otherwise query the array types on each new connection, from
// a handler that does not catch, so a connection closed during that query (the database going
// away) was an unhandled rejection, which ends a Node process (seen once in the test suite).
// Lists go as JSON text (`texts`, `recordset`), which needs no array type.
const pool = (url: string, size: number): Sql => postgres(url, { max: size, connect_timeout: 5, onnotice: () => {}, fetch_types: false });

export class Database {
  private down: Error | null = null;
  private pinging = false;
  private readonly timer: ReturnType<typeof setInterval>;

  private constructor(
    private sql: Sql,
    private readonly url: string,
    private readonly o: Required<PostgresOptions>,
  ) {
    this.timer = setInterval(() => void this.ping(), o.pingMs);
    this.timer.unref?.();
  }

  /** A pool on `url` (a postgres:// connection string) with the schema migrated. */
  static async connect(url: string, options: PostgresOptions = {}): Promise<Database> {
    const o = { poolSize: 10, queryTimeoutMs: 2000, pingMs: 1000, ...options };
    const sql = pool(url, o.poolSize);
    try {
      await migrate(sql);
      // Connections opened now rather than by the first requests (whose answers would wait on them).
      await Promise.all(Array.from({ length: Math.min(o.poolSize, 4) }, () => sql`SELECT 1`));
    } catch (err) {
      await sql.end({ timeout: 1 });
      throw err;
    }
    return new Database(sql, url, o);
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
    if (this.pinging) return;
    this.pinging = true;
    try {
      if (this.down) {
        // A fresh pool: connections of the old one may still hold a restarted server's farewell, each failing one request.
        const fresh = pool(this.url, this.o.poolSize);
        await within(fresh`SELECT 1`, this.o.pingMs * 2).catch(async (err) => {
          await fresh.end({ timeout: 1 });
          throw err;
        });
        const stale = this.sql;
        this.sql = fresh;
        void stale.end({ timeout: 5 });
        console.error("database reachable again");
        this.down = null;
        return;
      }
      await within(this.sql`SELECT 1`, this.o.pingMs * 2);
    } catch (err) {
      this.markDown(err as Error);
    } finally {
      this.pinging = false;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.sql.end({ timeout: 5 });
  }
}
