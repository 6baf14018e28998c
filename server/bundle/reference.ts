// Builds a bundle's reference.json (the training-time distributions the drift tests compare the
// live traffic with) from a training CSV: an evenly spaced sample of each numeric field, the
// counts of each category, and each intervention's predicted effect over the sampled customers
// above the churn threshold (the only ones whose effects the service computes by default).
import { recordFields } from "../features/csv.ts";
import type { Reference } from "../contract/bundle.ts";
import type { FieldIssue } from "../contract/errors.ts";
import type { Bundle } from "./load.ts";
import { scoreCustomers } from "./score.ts";

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
  const resolvedRows = sample.map((record, i) => {
    const issues: FieldIssue[] = [];
    const resolved = pipeline.resolve(recordFields(record, pipeline.fieldNames), undefined, ["row", i], issues);
    if (!resolved) throw new Error(`training row ${i}: ${issues.map((x) => `${x.path.join(".")}: ${x.message}`).join("; ")}`);
    for (const f of pipeline.numericFields) {
      // Drift is measured on what callers send: imputed values are not part of the distribution.
      if (!resolved.imputed.includes(f)) numeric[f].push(resolved.values[f] as number);
    }
    for (const f of pipeline.categoryFields) {
      const v = resolved.values[f];
      if (typeof v === "string" && !resolved.imputed.includes(f)) categories[f][v]++;
    }
    return resolved;
  });
  const threshold = bundle.manifest.decision.churn_threshold;
  const scores = scoreCustomers(bundle, resolvedRows, (_, p) => (p > threshold ? 0.95 : null));
  const effects: Record<string, number[]> = Object.fromEntries(bundle.interventions.map((iv) => [iv.name, []]));
  for (const e of scores.effects) if (e) for (const arm in effects) effects[arm].push(e[arm].effect);
  return { rows: sample.length, numeric, categories, effects };
}
