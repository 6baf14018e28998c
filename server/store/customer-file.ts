// A customer table as a CSV (a warehouse export with `customer_id`): its rows, streamed, each
// with its line number, cells read by the one CSV cell rule (server/features/csv.ts). Columns
// that are not fields of the bundle are left out. Read by `churn customers import` and, for
// CUSTOMERS_FILE, at start.
import { createReadStream } from "node:fs";
import { parse } from "csv-parse";
import type { FeatureValue } from "../contract/api.ts";
import { recordFields } from "../features/csv.ts";

/** The file cannot be read as a customer table: what, and where. */
export class CustomerFileError extends Error {}

export interface CustomerFileRow {
  /** The line the row starts on (the header is line 1). */
  line: number;
  row: { customer_id: string; [field: string]: FeatureValue };
}

/** Rows in chunks of `size`; a row without customer_id, or a malformed CSV, throws naming the file and line. */
export async function* customerFileRows(path: string, fields: readonly string[], size = 1000): AsyncGenerator<CustomerFileRow[]> {
  const records = createReadStream(path).pipe(parse({ columns: true, skip_empty_lines: true, info: true })) as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>;
  let chunk: CustomerFileRow[] = [];
  try {
    for await (const { record, info } of records) {
      if (!record.customer_id) throw new CustomerFileError(`${path} line ${info.lines}: no customer_id`);
      chunk.push({ line: info.lines, row: { customer_id: record.customer_id, ...recordFields(record, fields) } });
      if (chunk.length >= size) {
        yield chunk;
        chunk = [];
      }
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // csv-parse's own errors (CSV_*) and a missing file say what, not in which file.
    if (e.code?.startsWith("CSV_") || e.code === "ENOENT" || e.code === "EACCES") throw new CustomerFileError(`${path}: ${e.message}`);
    throw err;
  }
  if (chunk.length) yield chunk;
}
