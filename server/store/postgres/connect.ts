// One connection pool per process for every PostgreSQL-backed concern, migrated before use.
import postgres, { type Sql } from "postgres";
import { migrate } from "./migrations.ts";

export interface PostgresOptions {
  /**
   * Connections in the pool. Default 10 (the client's own default): queries are short, and nine
   * replicas of 10 stay under PostgreSQL's default max_connections (100); more replicas want a
   * smaller pool or a pooler in front.
   */
  poolSize?: number;
}

/** A pool on `url` (a postgres:// connection string) with the schema migrated. */
export async function connectPostgres(url: string, options: PostgresOptions = {}): Promise<Sql> {
  const sql = postgres(url, { max: options.poolSize ?? 10, onnotice: () => {} });
  try {
    await migrate(sql);
  } catch (err) {
    await sql.end({ timeout: 1 });
    throw err;
  }
  return sql;
}
