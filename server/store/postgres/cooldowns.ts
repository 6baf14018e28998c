// Cooldowns in PostgreSQL, global to the replicas. A start is one statement: an upsert of the
// (customer, intervention) row that only updates it when the last start is out of cooldown, and
// the workflow entry of each start that took, in the same commit. Two replicas starting the same
// intervention for a customer at once meet on the row (the primary key makes the second insert
// wait for the first, then re-check the condition against what it wrote), so one of them starts.
import type { InterventionHistory, InterventionStart } from "../../contract/storage.ts";
import type { Database } from "./connect.ts";

export class PostgresInterventionHistory implements InterventionHistory {
  constructor(
    private readonly db: Database,
    /** The request's correlation headers (request id, traceparent), sent with its workflow entry. */
    private readonly correlation: () => Record<string, string> | undefined = () => undefined,
  ) {}

  async lastTriggered(customerIds: readonly string[]): Promise<Map<string, Record<string, number>>> {
    const result = new Map<string, Record<string, number>>(customerIds.map((id) => [id, {}]));
    const rows = await this.db.run((sql) => sql<{ customer_id: string; intervention: string; last_ms: number }[]>`
      SELECT customer_id, intervention, last_ms::float8 AS last_ms FROM cooldowns WHERE customer_id = ANY(${[...new Set(customerIds)]})`);
    for (const r of rows) result.get(r.customer_id)![r.intervention] = r.last_ms;
    return result;
  }

  async start(starts: InterventionStart[]): Promise<boolean[]> {
    if (starts.length === 0) return [];
    const headers = this.correlation() ?? null;
    const rows = starts.map((s) => ({
      customer_id: s.customer_id, intervention: s.intervention, at_ms: s.at, cooldown_ms: s.cooldown_ms,
      prediction_id: s.workflow.prediction_id, payload: s.workflow, headers,
    }));
    const started = await this.db.run((sql) => sql<{ customer_id: string; intervention: string }[]>`
      WITH x AS (
        SELECT * FROM jsonb_to_recordset(${sql.json(rows as never)}::jsonb)
          AS x(customer_id text, intervention text, at_ms bigint, cooldown_ms bigint, prediction_id uuid, payload jsonb, headers jsonb)
      ), started AS (
        INSERT INTO cooldowns AS c (customer_id, intervention, last_ms, cooldown_ms)
        SELECT customer_id, intervention, at_ms, cooldown_ms FROM x
        ON CONFLICT (customer_id, intervention) DO UPDATE SET last_ms = EXCLUDED.last_ms, cooldown_ms = EXCLUDED.cooldown_ms
          WHERE c.last_ms <= EXCLUDED.last_ms - EXCLUDED.cooldown_ms
        RETURNING customer_id, intervention
      ), entries AS (
        INSERT INTO workflow_entries (prediction_id, payload, headers, next_ms, created_ms)
        SELECT x.prediction_id, x.payload, x.headers, 0, x.at_ms FROM x JOIN started USING (customer_id, intervention)
        RETURNING 1
      )
      SELECT customer_id, intervention FROM started`);
    const took = new Set(started.map((r) => `${r.customer_id}\n${r.intervention}`));
    return starts.map((s) => took.has(`${s.customer_id}\n${s.intervention}`));
  }
}
