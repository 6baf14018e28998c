// The bundled sample customers (models/sample_customers.csv) as predict requests.
import { readFileSync } from "node:fs";
import { parse } from "csv-parse/sync";
import { recordFields } from "../../server/features/csv.ts";
import type { PredictRequest } from "../../server/contract/api.ts";

export const FIELDS = [
  "tenure", "monthly_charges", "total_charges", "paperless_billing", "senior_citizen", "num_services", "logins_30d",
  "usage_change_30d", "support_tickets_30d", "days_since_last_login", "late_payments_90d", "contract_type",
  "internet_service", "payment_method",
];

let cache: Record<string, string>[] | undefined;
export function sampleRecords(): Record<string, string>[] {
  cache ??= parse(readFileSync("models/sample_customers.csv", "utf8"), { columns: true });
  return cache!;
}

export function readCsvRecords(n: number): PredictRequest[] {
  return sampleRecords()
    .slice(0, n)
    .map((r) => ({ customer_id: r.customer_id, ...recordFields(r, FIELDS) }) as PredictRequest);
}
