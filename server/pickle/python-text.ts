// Text as Python writes it, for the safetensors metadata: the export tool used json.dumps (ASCII
// escapes, ", " between list items) and str(); matching them byte for byte keeps an imported
// forest file identical to the one the Python export writes.
import type { PickleValue } from "./values.ts";

/** json.dumps(s) with ensure_ascii: JSON.stringify, then every non-ASCII UTF-16 unit as \uXXXX. */
export function pyJsonString(s: string): string {
  return JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** json.dumps(list_of_str) with the default separators. */
export function pyJsonList(items: string[]): string {
  return `[${items.map(pyJsonString).join(", ")}]`;
}

/** repr(float) (also str()): shortest round-trip digits; exponent form below 1e-4 and from 1e16. */
export function pyFloat(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-4 || a >= 1e16)) {
    const [mantissa, exp] = x.toExponential().split("e");
    const e = Number(exp);
    return `${mantissa}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
  }
  const s = String(x);
  return Number.isInteger(x) ? `${Object.is(x, -0) ? "-0" : s}.0` : s;
}

/**
 * str(v) for the scalar parameters of an estimator. The reader keeps Python ints and floats both
 * as numbers, so an integral value prints as an int ("20"); a float parameter of integral value
 * (max_samples=1.0) would print as "1" where Python prints "1.0" (informational metadata only).
 */
export function pyStr(v: PickleValue): string {
  if (v === null) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "string") return v;
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : pyFloat(v);
  return Array.isArray(v) ? `[${v.map(pyStr).join(", ")}]` : `<${(v as { class?: string }).class ?? "object"}>`;
}
