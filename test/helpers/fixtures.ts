// Access to ../shared/fixtures (tests and benchmarks run with the repo root as cwd;
// SHARED_DIR overrides where the shared folder is).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

export const SHARED = resolve(process.env.SHARED_DIR ?? "../shared");
export const FIXTURES = resolve(SHARED, "fixtures");

export function fixturePath(...parts: string[]): string {
  return resolve(FIXTURES, ...parts);
}

export function readText(...parts: string[]): string {
  return readFileSync(fixturePath(...parts), "utf8");
}

/** A parsed numeric CSV: header names and a row-major float64 matrix ("" and "nan" are NaN). */
export interface Matrix {
  header: string[];
  nRows: number;
  nCols: number;
  data: Float64Array;
}

export function parseNumber(cell: string): number {
  const s = cell.trim();
  if (s === "" || s.toLowerCase() === "nan") return NaN;
  if (s === "inf" || s === "+inf" || s === "Infinity") return Infinity;
  if (s === "-inf" || s === "-Infinity") return -Infinity;
  const v = Number(s);
  if (Number.isNaN(v)) throw new Error(`not a number: ${JSON.stringify(cell)}`);
  return v;
}

export function readMatrix(...parts: string[]): Matrix {
  const lines = readText(...parts).split("\n").filter((l) => l.length > 0);
  const header = lines[0].split(",");
  const nCols = header.length;
  const nRows = lines.length - 1;
  const data = new Float64Array(nRows * nCols);
  for (let r = 0; r < nRows; r++) {
    const cells = lines[r + 1].split(",");
    for (let c = 0; c < nCols; c++) data[r * nCols + c] = parseNumber(cells[c]);
  }
  return { header, nRows, nCols, data };
}

/** A LightGBM prediction file: one line per row, tab-separated values. */
export function readPredictions(...parts: string[]): number[][] {
  return readText(...parts)
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => l.split("\t").map(parseNumber));
}

export interface LightgbmFixtureInfo {
  rows: number;
  edge_rows: number;
  features: string[];
  objective: string;
  matrix: string;
}

export function lightgbmFixtures(): Record<string, LightgbmFixtureInfo> {
  return JSON.parse(readText("lightgbm", "models.json"));
}
