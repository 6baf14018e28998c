// Raw customer fields -> one row of model columns, as the bundle's manifest declares them:
// request value, else the customer store, else the manifest's imputation; one-hot categories;
// then (x - mean) / scale. Every problem is collected with its field path.
import type { FeatureValue } from "../contract/api.ts";
import type { FieldSpec, Rule, Scaler } from "../contract/bundle.ts";
import type { FieldIssue } from "../contract/errors.ts";

/** A customer's raw fields as the models saw them (null: a category imputed to all zeros). */
export interface Resolved {
  values: Record<string, number | string | null>;
  imputed: string[];
  unknown: { field: string; value: string }[];
}

interface Slot {
  field: string;
  spec: FieldSpec;
  /** Numeric/boolean: its column. Category: the column of each value, in `values` order. */
  columns: number[];
}

/** Fields that sit beside the features in a request and are not features. */
const RESERVED = new Set(["customer_id", "options"]);

export class Pipeline {
  readonly numericFields: string[] = [];
  readonly categoryFields: string[] = [];
  readonly fieldNames: string[];
  private readonly slots: Slot[] = [];
  private readonly mean: Float64Array;
  private readonly scale: Float64Array;
  private readonly impute: Float64Array;

  constructor(
    readonly fields: Record<string, FieldSpec>,
    readonly columns: string[],
    scaler: Scaler,
  ) {
    const index = new Map(columns.map((c, i) => [c, i]));
    const used = new Set<number>();
    const take = (field: string, column: string): number => {
      const i = index.get(column);
      if (i === undefined) throw new Error(`field "${field}" needs column "${column}", which feature_columns lacks`);
      if (used.has(i)) throw new Error(`column "${column}" is produced twice`);
      used.add(i);
      return i;
    };
    this.impute = new Float64Array(columns.length).fill(NaN);
    for (const [field, spec] of Object.entries(fields)) {
      if (RESERVED.has(field)) throw new Error(`"${field}" is reserved and cannot be a field`);
      if (spec.type === "category") {
        if (spec.impute !== "zeros" && !spec.values.includes(spec.impute)) {
          throw new Error(`field "${field}" imputes "${spec.impute}", which is not among its values (${spec.values.join(", ")}) or "zeros"`);
        }
        this.slots.push({ field, spec, columns: spec.values.map((v) => take(field, `${field}_${v}`)) });
        this.categoryFields.push(field);
      } else {
        const col = take(field, field);
        const median = scaler.impute[field];
        if (median === undefined) throw new Error(`field "${field}" is imputed by its median, but scaler.json has no impute value for it`);
        this.impute[col] = median;
        this.slots.push({ field, spec, columns: [col] });
        this.numericFields.push(field);
      }
    }
    const unused = columns.filter((_, i) => !used.has(i));
    if (unused.length) throw new Error(`no field produces column(s) ${unused.map((c) => `"${c}"`).join(", ")}`);
    this.fieldNames = Object.keys(fields);
    this.mean = Float64Array.from(scaler.mean);
    this.scale = Float64Array.from(scaler.scale);
  }

  get width(): number {
    return this.columns.length;
  }

  /** Why a rule of interventions.json cannot apply to these fields, or null. */
  checkRule(rule: Rule): string | null {
    const spec = this.fields[rule.field];
    if (!spec) return `unknown field; expected one of ${this.fieldNames.join(", ")}`;
    const values = Array.isArray(rule.value) ? rule.value : [rule.value];
    if ((rule.op === "in" || rule.op === "not_in") !== Array.isArray(rule.value)) {
      return `"${rule.op}" takes ${rule.op === "in" || rule.op === "not_in" ? "a list" : "a single value"}`;
    }
    if (spec.type === "category") {
      if (!["eq", "ne", "in", "not_in"].includes(rule.op)) return `"${rule.op}" does not apply to a category`;
      const bad = values.filter((v) => typeof v !== "string" || !spec.values.includes(v));
      if (bad.length) return `value(s) ${JSON.stringify(bad)} not among ${spec.values.join(", ")}`;
    } else if (values.some((v) => typeof v !== "number" && typeof v !== "boolean")) {
      return `expected numbers for a ${spec.type} field`;
    }
    return null;
  }

  /**
   * Resolves one customer's fields (request, then `stored`, then imputation). Problems are added
   * to `issues` under `path`; returns null if there were any.
   */
  resolve(
    request: Record<string, unknown>,
    stored: Record<string, FeatureValue> | undefined,
    path: (string | number)[],
    issues: FieldIssue[],
  ): Resolved | null {
    const before = issues.length;
    for (const key of Object.keys(request)) {
      if (!RESERVED.has(key) && !Object.hasOwn(this.fields, key)) {
        issues.push({ path: [...path, key], message: `unknown field; expected one of ${this.fieldNames.join(", ")}` });
      }
    }
    const resolved: Resolved = { values: {}, imputed: [], unknown: [] };
    for (const { field, spec, columns } of this.slots) {
      // An explicit null means "known to be missing": imputed, not looked up.
      const sent = Object.hasOwn(request, field);
      let raw: unknown = sent ? request[field] : stored?.[field] ?? null;
      const source = sent ? "" : " (from the customer store)";
      if (raw === null || raw === undefined) {
        resolved.imputed.push(field);
        resolved.values[field] = spec.type === "category" ? (spec.impute === "zeros" ? null : spec.impute) : this.impute[columns[0]];
        continue;
      }
      const problem = (message: string) => issues.push({ path: [...path, field], message: message + source });
      if (spec.type === "category") {
        if (typeof raw !== "string") {
          problem(`expected a string, one of ${spec.values.map((v) => JSON.stringify(v)).join(", ")}`);
        } else if (spec.values.includes(raw)) {
          resolved.values[field] = raw;
        } else if (spec.unknown === "zeros") {
          resolved.values[field] = null;
          resolved.unknown.push({ field, value: raw });
        } else {
          problem(`unknown category ${JSON.stringify(raw)}; expected one of ${spec.values.map((v) => JSON.stringify(v)).join(", ")}`);
        }
        continue;
      }
      if (spec.type === "boolean") {
        if (raw === true || raw === 1) resolved.values[field] = 1;
        else if (raw === false || raw === 0) resolved.values[field] = 0;
        else problem("expected a boolean (true/false or 0/1)");
        continue;
      }
      if (typeof raw !== "number" || !Number.isFinite(raw)) {
        problem(`expected ${spec.type === "integer" ? "an integer" : "a number"}`);
      } else if (spec.type === "integer" && !Number.isInteger(raw)) {
        problem("expected an integer");
      } else if ((spec.min !== undefined && raw < spec.min) || (spec.max !== undefined && raw > spec.max)) {
        problem(`out of range: expected ${spec.min ?? "-inf"} <= value <= ${spec.max ?? "inf"}`);
      } else {
        resolved.values[field] = raw;
      }
    }
    return issues.length === before ? resolved : null;
  }

  /**
   * Writes the raw model row of `resolved` into `out` at `offset`: one-hot categories, numbers as
   * they are, nothing imputed (a missing number is NaN, a missing category all zeros), nothing
   * scaled: what a churn model trained on raw columns takes (manifest `churn_input: "raw"`).
   */
  encodeRaw(resolved: Resolved, out: Float64Array, offset: number): void {
    for (const { field, spec, columns } of this.slots) {
      const missing = resolved.imputed.includes(field);
      const v = resolved.values[field];
      if (spec.type === "category") {
        for (let k = 0; k < columns.length; k++) out[offset + columns[k]] = !missing && v === spec.values[k] ? 1 : 0;
      } else {
        out[offset + columns[0]] = missing ? NaN : (v as number);
      }
    }
  }

  /** Writes the scaled model row of `resolved` into `out` at `offset`. */
  encode(resolved: Resolved, out: Float64Array, offset: number): void {
    for (const { field, spec, columns } of this.slots) {
      const v = resolved.values[field];
      if (spec.type === "category") {
        for (let k = 0; k < columns.length; k++) out[offset + columns[k]] = v === spec.values[k] ? 1 : 0;
      } else {
        out[offset + columns[0]] = v as number;
      }
    }
    for (let c = 0; c < this.columns.length; c++) {
      let x = out[offset + c];
      if (Number.isNaN(x)) x = this.impute[c];
      out[offset + c] = (x - this.mean[c]) / this.scale[c];
    }
  }
}
