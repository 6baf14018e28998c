// CUSTOMERS_FILE: a customer table (e.g. a warehouse export, a CSV with `customer_id`) held in
// memory, where the service looks up the features a request omits. Cells are read by the one CSV
// cell rule of the feature pipeline (server/features/csv.ts).
import { readFile } from "node:fs/promises";
import { parse } from "csv-parse/sync";
import type { FeatureValue } from "../contract/api.ts";
import type { CustomerStore } from "../contract/storage.ts";
import { cellValue } from "../features/csv.ts";

export class MemoryCustomerStore implements CustomerStore {
  private readonly rows = new Map<string, Record<string, FeatureValue>>();

  set(customerId: string, fields: Record<string, FeatureValue>): void {
    this.rows.set(customerId, fields);
  }

  get(customerId: string): Record<string, FeatureValue> | undefined {
    return this.rows.get(customerId);
  }

  get size(): number {
    return this.rows.size;
  }

  /** Every column but `customer_id` is kept; empty and "nan" cells are missing (looked up no further, imputed). */
  static async fromCsv(path: string): Promise<MemoryCustomerStore> {
    let records: Record<string, string>[];
    try {
      records = parse(await readFile(path, "utf8"), { columns: true, skip_empty_lines: true });
    } catch (err) {
      throw new Error(`${path}: ${(err as Error).message}`);
    }
    const store = new MemoryCustomerStore();
    for (const [i, rec] of records.entries()) {
      const id = rec.customer_id;
      if (!id) throw new Error(`${path}: line ${i + 2} has no customer_id`);
      const fields: Record<string, FeatureValue> = {};
      for (const [k, v] of Object.entries(rec)) if (k !== "customer_id") fields[k] = cellValue(v);
      store.set(id, fields);
    }
    return store;
  }
}
