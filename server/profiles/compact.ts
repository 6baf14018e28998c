// Compaction: what is left of a customer's events older than a cutoff C.
//
// A profile at `t` reads the windows (t - 90 days, t] at most. For every t >= C + 90 days, an event
// with `at < C` lies outside every window, so all it can still change is:
//   - tenure: the earliest signup            -> kept: that signup's `at`
//   - total_charges: the sum of all billings -> kept: their sum, folded in row order
//   - days_since_last_login: the latest login -> kept: that login's `at`
//   - each profile field: its latest value    -> kept: the winning (at, value) per field
//   - the counts being 0 rather than missing  -> kept: that the customer had events at all
// Everything else (late billings, support tickets, usage, other logins) is dropped. The summary
// is itself a set of rows (summaryRows), so compacting again later folds it in like any event,
// and derive() reads compacted and full histories alike: for t >= C + 90 days the answer is the
// same, bit for bit (the billing fold starts from the summary's total, which is the fold of every
// billing before C, all of which sort before the billings kept).
//
// Consequences, enforced by both stores: events with `at < C` are refused once C is set (they
// could no longer be deduplicated nor counted), and profiles are answered only for
// t >= C + 90 days (CustomerDataRefusal otherwise: an `as_of` further back is not answerable).
import type { FieldValue } from "../contract/customer-data.ts";
import { PROFILE_FIELDS, type ProfileField } from "../contract/events.ts";
import { LONGEST_WINDOW_MS } from "./derive.ts";
import { compareValues, decodeValue, encodeValue, Kind, type RowBuffer, type StringTable } from "./rows.ts";

/** The rows of a customer before a cutoff, folded. */
export interface Summary {
  /** The latest `at` folded in. */
  lastAt: number;
  billingTotal: number | null;
  signupAt: number | null;
  lastLoginAt: number | null;
  profile: Partial<Record<ProfileField, [at: number, value: FieldValue]>>;
}

/** The earliest instant profiles are answered for once events before `cutoff` are compacted. */
export function horizonOf(cutoff: number): number {
  return cutoff + LONGEST_WINDOW_MS;
}

/** Folds rows [0, end) of `rows` (sorted by `at`, all before the cutoff) into a summary. */
export function summarize(rows: Pick<RowBuffer, "kind" | "at" | "value">, end: number, strings: readonly string[]): Summary {
  const s: Summary = { lastAt: -Infinity, billingTotal: null, signupAt: null, lastLoginAt: null, profile: {} };
  for (let i = 0; i < end; i++) {
    const [k, a, v] = [rows.kind[i], rows.at[i], rows.value[i]];
    s.lastAt = Math.max(s.lastAt, a);
    if (k === Kind.SUMMARY || k === Kind.BILLING || k === Kind.BILLING_LATE) {
      if (!Number.isNaN(v)) s.billingTotal = (s.billingTotal ?? 0) + v;
    } else if (k === Kind.SIGNUP) {
      s.signupAt ??= a;
    } else if (k === Kind.LOGIN) {
      s.lastLoginAt = a;
    } else if (k >= Kind.PROFILE) {
      const field = PROFILE_FIELDS[k - Kind.PROFILE];
      const value = decodeValue(k - Kind.PROFILE, v, strings);
      const best = s.profile[field];
      if (!best || a > best[0] || (a === best[0] && compareValues(value, best[1]) > 0)) s.profile[field] = [a, value];
    }
  }
  return s;
}

/** Calls `row` for each row that stands for the summary, in `at` order of no importance (callers sort). */
export function summaryRows(s: Summary, strings: StringTable, row: (kind: number, at: number, value: number) => void): void {
  row(Kind.SUMMARY, s.lastAt, s.billingTotal ?? NaN);
  if (s.signupAt !== null) row(Kind.SIGNUP, s.signupAt, 0);
  if (s.lastLoginAt !== null) row(Kind.LOGIN, s.lastLoginAt, 0);
  for (const [field, [at, value]] of Object.entries(s.profile) as [ProfileField, [number, FieldValue]][]) {
    row(Kind.PROFILE + PROFILE_FIELDS.indexOf(field), at, encodeValue(field, value, strings));
  }
}
