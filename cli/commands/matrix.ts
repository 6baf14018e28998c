// CSV records -> the row-major matrix a model reads, columns matched by name.
import { UsageError } from "./common.ts";

export function cellNumber(cell: string, where: string): number {
  const s = cell.trim().toLowerCase();
  if (s === "" || s === "nan") return NaN;
  if (s === "inf" || s === "+inf" || s === "infinity") return Infinity;
  if (s === "-inf" || s === "-infinity") return -Infinity;
  const v = Number(s);
  if (Number.isNaN(v)) throw new UsageError(`${where}: not a number: ${JSON.stringify(cell)}`);
  return v;
}

/** `normalize` maps a CSV header to the model's spelling of the column. */
export function matrixFor(
  records: Record<string, string>[],
  columns: string[],
  normalize: (header: string) => string,
  file: string,
  cell: (value: string, where: string) => number,
): Float64Array {
  const headers = records.length ? Object.keys(records[0]) : [];
  const byName = new Map(headers.map((h) => [normalize(h), h]));
  const missing = columns.filter((c) => !byName.has(c));
  if (missing.length) throw new UsageError(`${file}: the header lacks column(s) ${missing.join(", ")} that the model reads`);
  const source = columns.map((c) => byName.get(c)!);
  const rows = new Float64Array(records.length * columns.length);
  records.forEach((rec, r) => {
    source.forEach((h, c) => (rows[r * columns.length + c] = cell(rec[h], `${file} row ${r + 2} column ${h}`)));
  });
  return rows;
}
