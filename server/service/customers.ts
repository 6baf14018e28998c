// Where features come from when a request omits them, and the intervention history that
// cooldowns read. Both are interfaces so that a real customer database or the durable log can
// stand behind them; the in-memory versions are the defaults.
import { readFile } from "node:fs/promises";
import { parse } from "csv-parse/sync";
import type { RawValue } from "../features/pipeline.ts";
import { CustomerColumn, CustomerTable } from "./customer-table.ts";

export interface CustomerStore {
  get(customerId: string): Record<string, RawValue> | undefined;
}

export interface InterventionHistory {
  lastTriggered(customerId: string, intervention: string): number | undefined;
  record(customerId: string, intervention: string, at: number): void;
}

/** Customers in memory, optionally loaded from a CSV with a `customer_id` column. */
export class MemoryCustomerStore implements CustomerStore {
  private readonly rows = new Map<string, Record<string, RawValue>>();

  set(customerId: string, fields: Record<string, RawValue>): void {
    this.rows.set(customerId, fields);
  }

  get(customerId: string): Record<string, RawValue> | undefined {
    return this.rows.get(customerId);
  }

  get size(): number {
    return this.rows.size;
  }

  /** Numbers become numbers, empty cells are missing, other text stays text. */
  static async fromCsv(path: string): Promise<MemoryCustomerStore> {
    const records: Record<string, string>[] = parse(await readFile(path, "utf8"), { columns: true, skip_empty_lines: true });
    const store = new MemoryCustomerStore();
    for (const [i, rec] of records.entries()) {
      const id = rec.customer_id;
      if (!id) throw new Error(`${path}: row ${i + 2} has no customer_id`);
      const fields: Record<string, RawValue> = {};
      for (const [k, v] of Object.entries(rec)) {
        if (k === "customer_id" || v === "" || v.toLowerCase() === "nan") continue;
        fields[k] = v.trim() !== "" && !Number.isNaN(Number(v)) ? Number(v) : v;
      }
      store.set(id, fields);
    }
    return store;
  }
}

/** When each intervention was last triggered, per customer (a column per intervention). */
export class MemoryInterventionHistory implements InterventionHistory {
  private readonly last = new Map<string, CustomerColumn>();

  /** `customers` may be shared with other per-customer state (the log's index shares it). */
  constructor(private readonly customers = new CustomerTable()) {}

  lastTriggered(customerId: string, intervention: string): number | undefined {
    return this.last.get(intervention)?.get(this.customers.find(customerId));
  }

  record(customerId: string, intervention: string, at: number): void {
    let column = this.last.get(intervention);
    if (!column) this.last.set(intervention, (column = new CustomerColumn()));
    column.set(this.customers.numberOf(customerId), at);
  }
}
