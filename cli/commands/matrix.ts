// CSV records -> the row-major matrix a model reads, columns matched by name.
import { cellNumber as toNumber } from "../../server/features/csv.ts";
import { UsageError } from "./common.ts";

/** A cell as a number, by the one CSV cell rule; text is a usage error naming the file, row and column. */
export function cellNumber(cell: string, where: string): number {
  try {
    return toNumber(cell, where);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
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
