// A customer's events as the derivation reads them: rows of (kind, at, value) in typed arrays,
// sorted by `at` then `value`. Both stores hand derive() their rows in this form: the embedded
// store copies them out of its arena, PostgreSQL builds them from its query. A `profile` event
// becomes one row per field it sets; its value is a number (numbers, booleans as 0/1, strings as
// an index into a string table).
import { PROFILE_FIELDS, type CustomerEvent, type ProfileField } from "../contract/events.ts";
import type { FieldValue } from "../contract/customer-data.ts";

/** Row kinds; `PROFILE + i` is PROFILE_FIELDS[i]. */
export const Kind = {
  /** A compaction summary: value = the folded billing total (NaN: none); stands for "the customer had events". */
  SUMMARY: 0,
  SIGNUP: 1,
  BILLING: 2,
  BILLING_LATE: 3,
  LOGIN: 4,
  SUPPORT_TICKET: 5,
  USAGE: 6,
  PROFILE: 8,
} as const;
export const KIND_COUNT = Kind.PROFILE + PROFILE_FIELDS.length;

const BOOLEAN_FIELDS = new Set<ProfileField>(["paperless_billing", "senior_citizen"]);
const STRING_FIELDS = new Set<ProfileField>(["contract_type", "internet_service", "payment_method"]);

/** Strings of profile values, each numbered once. */
export class StringTable {
  readonly list: string[] = [];
  private readonly index = new Map<string, number>();

  id(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.list.length;
      this.list.push(s);
      this.index.set(s, i);
    }
    return i;
  }
}

export function encodeValue(field: ProfileField, value: FieldValue, strings: StringTable): number {
  if (STRING_FIELDS.has(field)) return strings.id(value as string);
  if (BOOLEAN_FIELDS.has(field)) return value ? 1 : 0;
  return value as number;
}

export function decodeValue(fieldIndex: number, value: number, strings: readonly string[]): FieldValue {
  const field = PROFILE_FIELDS[fieldIndex];
  if (STRING_FIELDS.has(field)) return strings[value];
  if (BOOLEAN_FIELDS.has(field)) return value === 1;
  return value;
}

/** Two values of one field: false < true, numbers by value, strings by code units. */
export function compareValues(a: FieldValue, b: FieldValue): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class RowBuffer {
  kind = new Uint8Array(64);
  at = new Float64Array(64);
  value = new Float64Array(64);
  length = 0;

  clear(): void {
    this.length = 0;
  }

  push(kind: number, at: number, value: number): void {
    if (this.length === this.kind.length) {
      const n = this.length * 2;
      const [k, a, v] = [new Uint8Array(n), new Float64Array(n), new Float64Array(n)];
      k.set(this.kind);
      a.set(this.at);
      v.set(this.value);
      [this.kind, this.at, this.value] = [k, a, v];
    }
    this.kind[this.length] = kind;
    this.at[this.length] = at;
    this.value[this.length] = value;
    this.length++;
  }

  /** Sorts by `at`, then `value` (the order sums are folded in, so that every store adds in one order). */
  sort(): void {
    const order = Array.from({ length: this.length }, (_, i) => i).sort(
      (i, j) => this.at[i] - this.at[j] || this.value[i] - this.value[j] || this.kind[i] - this.kind[j],
    );
    const [k, a, v] = [this.kind.slice(), this.at.slice(), this.value.slice()];
    order.forEach((from, to) => {
      this.kind[to] = k[from];
      this.at[to] = a[from];
      this.value[to] = v[from];
    });
  }
}

/** What of an event its rows hold (a CustomerEvent is one; stores rebuild it from what they keep). */
export type EventFacts = { type: CustomerEvent["type"]; amount?: number | null; paid_late?: boolean | null } & { [F in ProfileField]?: FieldValue | null };

/** Calls `row` for each row an event stands for, `at` in ms since epoch. */
export function eventRows(event: EventFacts, at: number, strings: StringTable, row: (kind: number, at: number, value: number) => void): void {
  switch (event.type) {
    case "signup":
      return row(Kind.SIGNUP, at, 0);
    case "billing":
      return row(event.paid_late ? Kind.BILLING_LATE : Kind.BILLING, at, event.amount!);
    case "login":
      return row(Kind.LOGIN, at, 0);
    case "support_ticket":
      return row(Kind.SUPPORT_TICKET, at, 0);
    case "usage":
      return row(Kind.USAGE, at, event.amount!);
    case "profile":
      for (let i = 0; i < PROFILE_FIELDS.length; i++) {
        const v = event[PROFILE_FIELDS[i]];
        if (v !== undefined && v !== null) row(Kind.PROFILE + i, at, encodeValue(PROFILE_FIELDS[i], v, strings));
      }
  }
}

/** An event's instant in ms since epoch (sub-millisecond digits dropped); NaN if unreadable. */
export function eventTime(at: string): number {
  return Date.parse(at);
}
