// Cooldowns in PostgreSQL, global to the replicas. A start is an upsert of the (customer,
// intervention) row that only updates it when the last start is out of cooldown, with the workflow
// entry of each start that took in the same statement. Two replicas starting the same intervention
// for a customer at once meet on the row (the primary key makes the second insert wait for the
// first, then re-check the condition against what it wrote), so one of them starts.
//
// Starts are committed before their answers, so each waits for a commit (a disk sync): the starts
// of requests arriving while one statement is in flight go together in the next, one sync for all
// of them (group commit, without a timer: a lone request is sent at once).
import type { InterventionHistory, InterventionStart } from "../../contract/storage.ts";
import { recordset, texts, type Database } from "./connect.ts";

interface Call {
  starts: InterventionStart[];
  headers: Record<string, string> | null;
  resolve: (took: boolean[]) => void;
  reject: (err: unknown) => void;
}

const keyOf = (s: Pick<InterventionStart, "customer_id" | "intervention">) => `${s.customer_id}\n${s.intervention}`;

export class PostgresInterventionHistory implements InterventionHistory {
  private readonly queue: Call[] = [];
  private sending = false;

  constructor(
    private readonly db: Database,
    /** The request's correlation headers (request id, traceparent), sent with its workflow entry. */
    private readonly correlation: () => Record<string, string> | undefined = () => undefined,
  ) {}

  async lastTriggered(customerIds: readonly string[]): Promise<Map<string, Record<string, number>>> {
    const result = new Map<string, Record<string, number>>(customerIds.map((id) => [id, {}]));
    const rows = await this.db.run((sql) => sql<{ customer_id: string; intervention: string; last_ms: number }[]>`
      SELECT customer_id, intervention, last_ms::float8 AS last_ms FROM cooldowns WHERE customer_id IN (SELECT ${texts(sql, [...new Set(customerIds)])})`);
    for (const r of rows) result.get(r.customer_id)![r.intervention] = r.last_ms;
    return result;
  }

  start(starts: InterventionStart[]): Promise<boolean[]> {
    if (starts.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      // The headers of the request making the starts, read while still in its context.
      this.queue.push({ starts, headers: this.correlation() ?? null, resolve, reject });
      if (!this.sending) void this.send();
    });
  }

  /** Sends what is queued, statement after statement, until nothing is. */
  private async send(): Promise<void> {
    this.sending = true;
    while (this.queue.length > 0) {
      // A statement may not update one row twice: a call naming a key already taken waits for the next.
      const keys = new Set<string>();
      const calls: Call[] = [];
      while (this.queue.length > 0 && !this.queue[0].starts.some((s) => keys.has(keyOf(s)))) {
        const call = this.queue.shift()!;
        for (const s of call.starts) keys.add(keyOf(s));
        calls.push(call);
      }
      try {
        const took = await this.statement(calls);
        for (const call of calls) call.resolve(call.starts.map((s) => took.has(keyOf(s))));
      } catch (err) {
        for (const call of calls) call.reject(err);
      }
    }
    this.sending = false;
  }

  private async statement(calls: Call[]): Promise<Set<string>> {
    const rows = calls.flatMap((call) => call.starts.map((s) => ({
      customer_id: s.customer_id, intervention: s.intervention, at_ms: s.at, cooldown_ms: s.cooldown_ms,
      prediction_id: s.workflow.prediction_id, payload: s.workflow, headers: call.headers,
    })));
    const started = await this.db.run((sql) => sql<{ customer_id: string; intervention: string }[]>`
      WITH x AS (
        SELECT * FROM ${recordset(sql, rows)}
          AS x(customer_id text, intervention text, at_ms bigint, cooldown_ms bigint, prediction_id uuid, payload json, headers json)
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
    return new Set(started.map(keyOf));
  }
}
