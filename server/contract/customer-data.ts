// What the service needs of customer data (DESIGN sections 8 and 9): events in, profiles out.
// Two implementations stand behind it — an embedded store in a data folder and PostgreSQL — and
// one conformance suite (test/customer-data.test.ts) holds both to the same answers.
import type { FeatureValue } from "./api.ts";
import type { FieldIssue } from "./errors.ts";
import type { CustomerEvent } from "./events.ts";

/** A known field value (missing ones are absent). */
export type FieldValue = Exclude<FeatureValue, null>;
export type FieldSource = "events" | "store";

/** A customer's fields at one instant, and where each came from. */
export interface Profile {
  values: Record<string, FieldValue>;
  sources: Record<string, FieldSource>;
}

export interface IngestResult {
  event_id: string;
  status: "applied" | "duplicate";
}

/** Rows of an existing customer table (a warehouse export). */
export interface CustomerRow {
  customer_id: string;
  /** null: the row has no value for the field (an empty cell). */
  fields: Record<string, FieldValue | null>;
}

/** A customer and the instant (ms since epoch) its profile is wanted at. */
export interface ProfileQuery {
  customer_id: string;
  at: number;
}

export interface CustomerData {
  /**
   * Applies a batch atomically (all or nothing) and durably before resolving. An event counts
   * once per (customer_id, event_id): seen before, it changes nothing and is reported as a
   * duplicate. Throws CustomerDataRefusal (nothing applied) for an event older than the compaction
   * cutoff; any other rejection is the store failing.
   */
  ingest(events: CustomerEvent[]): Promise<IngestResult[]>;
  /** Static field values per customer (source "store"); a row replaces that customer's earlier row. Durable before resolving. */
  importRows(rows: CustomerRow[]): Promise<void>;
  /**
   * The customer's fields at instant `at` (ms since epoch): each derived from events (source
   * "events") when not missing, else the imported row's value (source "store"); fields neither
   * gives are absent. undefined when the store knows nothing of the customer (no event at any
   * time, no row). Throws CustomerDataRefusal when `at` is before horizon(): compacted events no
   * longer answer it exactly.
   */
  profile(customerId: string, at: number): Promise<Profile | undefined>;
  /**
   * profile() for many customers at once, each at its own instant (one query on a server
   * database, not one per customer). Throws CustomerDataRefusal naming each query (`[i, "at"]`)
   * whose instant is before horizon().
   */
  profiles(queries: readonly ProfileQuery[]): Promise<(Profile | undefined)[]>;
  /**
   * Folds events older than `before` (ms since epoch) into per-customer summaries and forgets
   * them (server/profiles/compact.ts says what is kept). From then on events with `at < before`
   * are refused, and profiles are answered for `at >= before + 90 days` only.
   */
  compact(before: number): Promise<void>;
  /** The earliest instant profile() answers (-Infinity before any compaction). */
  horizon(): Promise<number>;
  close(): Promise<void>;
}

/** How much history the stores keep by default: the longest window (90 days) plus 30 days in which `as_of` may lie in the past. */
export const DEFAULT_RETENTION_MS = 120 * 24 * 3600 * 1000;

/**
 * A request the store cannot apply for reasons of its state rather than its shape (a 400, like a
 * validation error): each issue names the field by path, relative to the call's argument
 * (`[3, "at"]`: the fourth event's `at`; `["at"]`: profile's instant).
 */
export class CustomerDataRefusal extends Error {
  constructor(
    message: string,
    readonly issues: FieldIssue[],
  ) {
    super(message);
    this.name = "CustomerDataRefusal";
  }
}

/** Refuses, naming each (`[i, "at"]`), the queries whose instant is before `horizon`. */
export function refuseBeforeHorizon(queries: readonly ProfileQuery[], horizon: number): void {
  const early = queries.flatMap((q, i) =>
    q.at < horizon ? [{ path: [i, "at"], message: `${new Date(q.at).toISOString()} is before ${new Date(horizon).toISOString()}, the earliest instant compacted events still answer` }] : [],
  );
  if (early.length) throw new CustomerDataRefusal("instant before the horizon", early);
}

/** profile() by way of profiles(): a refused instant is named `["at"]`. */
export async function oneProfile(data: Pick<CustomerData, "profiles">, customerId: string, at: number): Promise<Profile | undefined> {
  try {
    return (await data.profiles([{ customer_id: customerId, at }]))[0];
  } catch (err) {
    if (err instanceof CustomerDataRefusal) throw new CustomerDataRefusal(err.message, err.issues.map((i) => ({ ...i, path: i.path.slice(1) })));
    throw err;
  }
}
