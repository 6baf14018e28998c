// CSV cells -> raw field values: the one rule for every reader of CSVs (CUSTOMERS_FILE, batch
// scoring, the reference builder, the model tools' numeric matrices). Empty or "nan" cells are
// missing (null), true/false are booleans, numbers (with inf/infinity) are numbers, anything else
// stays text. Case is ignored for the words.
import type { FeatureValue } from "../contract/api.ts";

const WORDS = new Map<string, FeatureValue>([
  ["", null], ["nan", null], ["true", true], ["false", false],
  ["inf", Infinity], ["+inf", Infinity], ["infinity", Infinity], ["+infinity", Infinity], ["-inf", -Infinity], ["-infinity", -Infinity],
]);

export function cellValue(cell: string): FeatureValue {
  const s = cell.trim();
  const word = WORDS.get(s.toLowerCase());
  if (word !== undefined) return word;
  const n = Number(s);
  return Number.isNaN(n) ? cell : n;
}

/** A cell as a number: missing is NaN, booleans are 1/0; text is refused naming `where`. */
export function cellNumber(cell: string, where: string): number {
  const v = cellValue(cell);
  if (v === null) return NaN;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "number") return v;
  throw new Error(`${where}: not a number: ${JSON.stringify(cell)}`);
}

/** The cells of `record` that are fields, as raw values; other columns are left out. */
export function recordFields(record: Record<string, string>, fields: readonly string[]): Record<string, FeatureValue> {
  const out: Record<string, FeatureValue> = {};
  for (const f of fields) if (Object.hasOwn(record, f)) out[f] = cellValue(record[f]);
  return out;
}
