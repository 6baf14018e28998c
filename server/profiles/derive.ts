// The derivation of DESIGN section 8: a customer's fields at instant `t` from the rows of its
// events (rows.ts), the one function both stores use, so that both answer alike.
//
// Over rows with `at <= t`, windows half-open `(t - N days, t]`:
//   tenure                 floor((t - earliest signup) / 30 days)        no signup: missing
//   total_charges          sum of billing amounts (and a summary's total)  no billing: missing
//   late_payments_90d      late billings in the 90-day window
//   logins_30d             logins in the 30-day window
//   support_tickets_30d    support tickets in the 30-day window
//   days_since_last_login  floor((t - latest login) / 1 day)             no login: missing
//   usage_change_30d       (U1 - U0) / U0 over (t-30d, t] and (t-60d, t-30d]  U0 = 0: missing
//   profile fields         the value of the latest `at`; on equal `at` the greatest value
//                          (false < true, numbers by value, strings by code units), so that
//                          arrival order never matters
// The three counts are 0 when the customer has any row at or before `t`, else missing.
// Sums are folded in row order (`at`, then amount), so every store adds in the same order and
// gets the same bits; a summary row carries the fold of the billings compacted before it.
import { PROFILE_FIELDS } from "../contract/events.ts";
import type { FieldValue, Profile } from "../contract/customer-data.ts";
import { compareValues, decodeValue, Kind, type RowBuffer } from "./rows.ts";

export const DAY_MS = 24 * 3600 * 1000;
/** The longest window: events older than this before `t` count in no window. */
export const LONGEST_WINDOW_MS = 90 * DAY_MS;

const NONE = -1;
const profileRow = new Int32Array(PROFILE_FIELDS.length);

/**
 * The profile at `t` from `rows` (sorted by `at`) and the customer's imported row: each field
 * from events when they give it, else from the row. Fields neither gives are absent.
 */
export function deriveProfile(
  rows: Pick<RowBuffer, "kind" | "at" | "value" | "length">,
  t: number,
  strings: readonly string[],
  imported?: Record<string, FieldValue | null>,
): Profile {
  const d30 = t - 30 * DAY_MS;
  const d60 = t - 60 * DAY_MS;
  const d90 = t - 90 * DAY_MS;
  let any = false;
  let signup = NaN;
  let billing = NaN;
  let late = 0;
  let logins = 0;
  let lastLogin = NaN;
  let tickets = 0;
  let u1 = 0;
  let u0 = 0;
  profileRow.fill(NONE);
  const { kind, at, value } = rows;
  for (let i = 0; i < rows.length; i++) {
    const a = at[i];
    if (a > t) break;
    any = true;
    const k = kind[i];
    switch (k) {
      case Kind.SUMMARY:
        if (!Number.isNaN(value[i])) billing = (Number.isNaN(billing) ? 0 : billing) + value[i];
        break;
      case Kind.SIGNUP:
        if (Number.isNaN(signup)) signup = a;
        break;
      case Kind.BILLING_LATE:
        if (a > d90) late++;
      // falls through: a late billing is a billing
      case Kind.BILLING:
        billing = (Number.isNaN(billing) ? 0 : billing) + value[i];
        break;
      case Kind.LOGIN:
        lastLogin = a;
        if (a > d30) logins++;
        break;
      case Kind.SUPPORT_TICKET:
        if (a > d30) tickets++;
        break;
      case Kind.USAGE:
        if (a > d30) u1 += value[i];
        else if (a > d60) u0 += value[i];
        break;
      default: {
        const f = k - Kind.PROFILE;
        const best = profileRow[f];
        if (best === NONE || a > at[best] || (a === at[best] && compareValues(decodeValue(f, value[i], strings), decodeValue(f, value[best], strings)) > 0)) {
          profileRow[f] = i;
        }
      }
    }
  }
  const values: Record<string, FieldValue> = {};
  const sources: Profile["sources"] = {};
  const set = (field: string, v: FieldValue) => {
    values[field] = v;
    sources[field] = "events";
  };
  if (!Number.isNaN(signup)) set("tenure", Math.floor((t - signup) / (30 * DAY_MS)));
  if (!Number.isNaN(billing)) set("total_charges", billing);
  if (any) {
    set("late_payments_90d", late);
    set("logins_30d", logins);
    set("support_tickets_30d", tickets);
  }
  if (!Number.isNaN(lastLogin)) set("days_since_last_login", Math.floor((t - lastLogin) / DAY_MS));
  if (u0 > 0) set("usage_change_30d", (u1 - u0) / u0);
  for (let f = 0; f < PROFILE_FIELDS.length; f++) {
    if (profileRow[f] !== NONE) set(PROFILE_FIELDS[f], decodeValue(f, value[profileRow[f]], strings));
  }
  if (imported) {
    for (const field in imported) {
      const v = imported[field];
      if (v !== null && !(field in values)) {
        values[field] = v;
        sources[field] = "store";
      }
    }
  }
  return { values, sources };
}
