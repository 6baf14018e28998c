// Builds a bundle's reference.json (the training-time distributions the drift tests compare the
// live traffic with) from a training CSV: an evenly spaced sample of each numeric field, the
// counts of each category, and each intervention's predicted effect over the sampled customers
// above the churn threshold (the only ones whose effects the service computes by default).
import { recordFields } from "../features/csv.ts";
import type { FieldIssue } from "../service/schemas.ts";
import type { Reference } from "./files.ts";
import type { Bundle } from "./load.ts";

export function buildReference(bundle: Bundle, records: Record<string, string>[], sampleSize = 2000): Reference {
  const { pipeline } = bundle;
  const step = Math.max(1, records.length / sampleSize);
  const sample: Record<string, string>[] = [];
  for (let k = 0; k < Math.min(sampleSize, records.length); k++) sample.push(records[Math.floor(k * step)]);

  const numeric: Record<string, number[]> = Object.fromEntries(pipeline.numericFields.map((f) => [f, []]));
  const categories: Record<string, Record<string, number>> = {};
  for (const f of pipeline.categoryFields) {
    const spec = pipeline.fields[f];
    categories[f] = Object.fromEntries((spec.type === "category" ? spec.values : []).map((v) => [v, 0]));
  }
  const rows = new Float64Array(sample.length * pipeline.width);
  sample.forEach((record, i) => {
    const issues: FieldIssue[] = [];
    const resolved = pipeline.resolve(recordFields(record, pipeline.fieldNames), undefined, ["row", i], issues);
    if (!resolved) throw new Error(`training row ${i}: ${issues.map((x) => `${x.path.join(".")}: ${x.message}`).join("; ")}`);
    pipeline.encode(resolved, rows, i * pipeline.width);
    for (const f of pipeline.numericFields) {
      // Drift is measured on what callers send: imputed values are not part of the distribution.
      if (!resolved.imputed.includes(f)) numeric[f].push(resolved.values[f] as number);
    }
    for (const f of pipeline.categoryFields) {
      const v = resolved.values[f];
      if (typeof v === "string" && !resolved.imputed.includes(f)) categories[f][v]++;
    }
  });
  const probability = bundle.churn.predict(rows, sample.length);
  const atRisk = [...probability.keys()].filter((r) => probability[r] > bundle.manifest.decision.churn_threshold);
  const riskRows = new Float64Array(atRisk.length * pipeline.width);
  atRisk.forEach((r, k) => riskRows.set(rows.subarray(r * pipeline.width, (r + 1) * pipeline.width), k * pipeline.width));
  const result = bundle.forest.effects(riskRows, atRisk.length, 0.05);
  const effects: Record<string, number[]> = {};
  result.contrasts.forEach(({ t1 }, a) => {
    effects[t1] = Array.from({ length: atRisk.length }, (_, k) => result.effect[k * result.contrasts.length + a]);
  });
  return { rows: sample.length, numeric, categories, effects };
}
