// Customer data operations (DESIGN section 8): events in (triggering predictions), a profile as
// the model would see it, and bulk rows of an existing customer table. The store behind them is
// the contract's CustomerData (embedded, or PostgreSQL).
import type { Bundle } from "../bundle/load.ts";
import type { CustomerImportRequest, CustomerImportResponse, CustomerProfile, FeatureValue, IngestResponse, PredictResponse } from "../contract/api.ts";
import { CustomerDataRefusal, type CustomerData, type FieldValue, type Profile } from "../contract/customer-data.ts";
import { RequestError, type FieldIssue } from "../contract/errors.ts";
import type { CustomerEvent } from "../contract/events.ts";
import type { PredictionObserver } from "../contract/records.ts";

/** The store's refusal as a client error, its paths under `prefix` (an event's index under "events"). */
export function refusal(err: unknown, prefix: (path: (string | number)[]) => (string | number)[]): never {
  if (!(err instanceof CustomerDataRefusal)) throw err;
  throw new RequestError(err.message, err.issues.map((i) => ({ path: prefix(i.path), message: i.message })));
}

/**
 * Applies `events` (all or nothing), then scores each applied event of a triggering type at its
 * own instant, one after another, so a trigger sees the cooldowns the ones before it started.
 */
export async function ingestEvents(
  data: CustomerData,
  triggers: ReadonlySet<string>,
  events: CustomerEvent[],
  batch: boolean,
  predict: (customerId: string, at: string) => Promise<PredictResponse>,
  observers: PredictionObserver[],
): Promise<IngestResponse> {
  const tell = (counts: { applied: number; duplicate: number; refused: number }) => observers.forEach((o) => o.onEvents?.(counts));
  let results;
  try {
    results = await data.ingest(events);
  } catch (err) {
    if (err instanceof CustomerDataRefusal) tell({ applied: 0, duplicate: 0, refused: events.length });
    refusal(err, (path) => (batch ? ["events", ...path] : path.slice(1)));
  }
  const applied = results.filter((r) => r.status === "applied").length;
  tell({ applied, duplicate: results.length - applied, refused: 0 });
  const predictions: PredictResponse[] = [];
  for (const [i, e] of events.entries()) {
    if (results[i].status === "applied" && triggers.has(e.type) && e.trigger !== false) predictions.push(await predict(e.customer_id, e.at));
  }
  return { results, predictions };
}

/** A customer's fields as the model sees them at `at`: the profile resolved through the bundle's pipeline. */
export function profileView(bundle: Bundle, customerId: string, at: number, profile: Profile): CustomerProfile {
  const issues: FieldIssue[] = [];
  const resolved = bundle.pipeline.resolve({}, profile.values, [], issues);
  // A stored value the manifest refuses (e.g. a row imported under an older bundle) is the store's fault, said with its field.
  if (!resolved) throw new Error(`customer ${customerId}: stored fields the bundle refuses: ${issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const fields: CustomerProfile["fields"] = {};
  for (const field of bundle.pipeline.fieldNames) {
    fields[field] = { value: resolved.values[field] ?? null, source: resolved.imputed.includes(field) ? "imputed" : profile.sources[field] ?? "imputed" };
  }
  return { customer_id: customerId, as_of: new Date(at).toISOString(), model_version: bundle.version, fields, unknown_categories: resolved.unknown };
}

/** Validates each row as a request's fields are validated; a row with any problem is refused whole, the rest imported. */
export async function importCustomers(bundle: Bundle, data: CustomerData, request: CustomerImportRequest): Promise<CustomerImportResponse> {
  const rows: { customer_id: string; fields: Record<string, FieldValue | null> }[] = [];
  const rejected: CustomerImportResponse["rejected"] = [];
  request.rows.forEach((row, index) => {
    const issues: FieldIssue[] = [];
    bundle.pipeline.resolve(row, undefined, ["rows", index], issues);
    if (issues.length) return void rejected.push({ index, issues });
    const { customer_id, ...fields } = row;
    rows.push({ customer_id, fields: fields as Record<string, FeatureValue> });
  });
  if (rows.length) await data.importRows(rows);
  return { imported: rows.length, rejected };
}
