// CSV cells -> raw field values, for every reader of customer CSVs (CUSTOMERS_FILE, batch
// scoring, the reference builder): numeric-looking cells become numbers, empty or "nan" cells are missing (null),
// anything else stays text. Columns that are not fields are left out.
import type { FeatureValue } from "../contract/api.ts";

export function cellValue(cell: string): FeatureValue {
  const s = cell.trim();
  if (s === "" || s.toLowerCase() === "nan") return null;
  if (s === "true") return true;
  if (s === "false") return false;
  const n = Number(s);
  return Number.isNaN(n) ? cell : n;
}

export function recordFields(record: Record<string, string>, fields: readonly string[]): Record<string, FeatureValue> {
  const out: Record<string, FeatureValue> = {};
  for (const f of fields) if (f in record) out[f] = cellValue(record[f]);
  return out;
}
