// Random customer event streams, and the plain recomputation of DESIGN section 8 that stores and
// derive() are checked against: straight from the list of events, one field at a time.
import fc from "fast-check";
import type { FieldValue } from "../../server/contract/customer-data.ts";
import { PROFILE_FIELDS, type CustomerEvent } from "../../server/contract/events.ts";

export const DAY = 24 * 3600 * 1000;
export const T0 = Date.parse("2026-01-01T00:00:00Z");
export const iso = (ms: number) => new Date(ms).toISOString();

/** Instants on a 6-hour grid over 200 days (ties and exact window edges are common), sometimes 1 ms off it. */
export const instant = fc.tuple(fc.integer({ min: 0, max: 800 }), fc.constantFrom(0, 0, 0, 1, -1)).map(([q, off]) => T0 + q * 6 * 3600 * 1000 + off);

const amount = fc.oneof(fc.integer({ min: 0, max: 500 }), fc.double({ min: 0, max: 500, noNaN: true }));

const profileValues = fc.record(
  {
    contract_type: fc.constantFrom("Month-to-month", "One year", "Two year"),
    internet_service: fc.constantFrom("DSL", "Fiber optic", "No"),
    payment_method: fc.constantFrom("Electronic check", "Mailed check"),
    paperless_billing: fc.boolean(),
    senior_citizen: fc.boolean(),
    num_services: fc.integer({ min: 0, max: 6 }),
    monthly_charges: amount,
  },
  { requiredKeys: [] },
).filter((v) => Object.keys(v).length > 0);

/** Events of a few customers (ids prefixed by `prefix`), in random order, with retried copies. */
export function eventStream(prefix: string, maxEvents = 40): fc.Arbitrary<CustomerEvent[]> {
  const event = fc
    .record({
      customer: fc.integer({ min: 0, max: 2 }),
      at: instant,
      kind: fc.oneof(
        fc.constant({ type: "signup" as const }),
        profileValues.map((v) => ({ type: "profile" as const, ...v })),
        fc.record({ type: fc.constant("billing" as const), amount, paid_late: fc.boolean() }),
        fc.constant({ type: "login" as const }),
        fc.constant({ type: "support_ticket" as const }),
        fc.record({ type: fc.constant("usage" as const), amount }),
      ),
    })
    .map(({ customer, at, kind }) => ({ customer_id: `${prefix}c${customer}`, at: iso(at), ...kind }) as Omit<CustomerEvent, "event_id">);
  return fc
    .array(event, { maxLength: maxEvents })
    .map((events) => events.map((e, i) => ({ ...e, event_id: `e${i}` }) as CustomerEvent))
    .chain((events) =>
      fc.tuple(fc.shuffledSubarray(events), fc.array(fc.nat(), { maxLength: 5 })).map(([order, copies]) => {
        // Retries: copies of events already in the stream, somewhere later.
        const out = [...order];
        for (const c of copies) if (events.length) out.splice(c % (out.length + 1), 0, events[c % events.length]);
        return out;
      }),
    );
}

/** The events that count: the first copy of each (customer, event id). */
export function distinct(events: CustomerEvent[]): CustomerEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => {
    const key = `${e.customer_id}\n${e.event_id}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** DESIGN section 8 read literally. Sums add in (at, amount) order, as the stores do. */
export function plainProfile(all: CustomerEvent[], customerId: string, t: number): Record<string, FieldValue> {
  const events = distinct(all).filter((e) => e.customer_id === customerId && Date.parse(e.at) <= t);
  const at = (e: CustomerEvent) => Date.parse(e.at);
  const inWindow = (e: CustomerEvent, days: number) => at(e) > t - days * DAY;
  const sum = (list: { at: string; amount: number }[]) =>
    [...list].sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || a.amount - b.amount).reduce((s, e) => s + e.amount, 0);
  const out: Record<string, FieldValue> = {};
  const signups = events.filter((e) => e.type === "signup").map(at);
  if (signups.length) out.tenure = Math.floor((t - Math.min(...signups)) / (30 * DAY));
  const billings = events.filter((e) => e.type === "billing");
  if (billings.length) out.total_charges = sum(billings);
  if (events.length) {
    out.late_payments_90d = billings.filter((e) => e.paid_late && inWindow(e, 90)).length;
    out.logins_30d = events.filter((e) => e.type === "login" && inWindow(e, 30)).length;
    out.support_tickets_30d = events.filter((e) => e.type === "support_ticket" && inWindow(e, 30)).length;
  }
  const logins = events.filter((e) => e.type === "login").map(at);
  if (logins.length) out.days_since_last_login = Math.floor((t - Math.max(...logins)) / DAY);
  const usage = events.filter((e) => e.type === "usage");
  const u1 = sum(usage.filter((e) => inWindow(e, 30)));
  const u0 = sum(usage.filter((e) => inWindow(e, 60) && !inWindow(e, 30)));
  if (u0 > 0) out.usage_change_30d = (u1 - u0) / u0;
  for (const field of PROFILE_FIELDS) {
    let best: { at: number; value: FieldValue } | undefined;
    for (const e of events) {
      if (e.type !== "profile" || e[field] === undefined) continue;
      const value = e[field]!;
      if (!best || at(e) > best.at || (at(e) === best.at && value > best.value)) best = { at: at(e), value };
    }
    if (best) out[field] = best.value;
  }
  return out;
}

/** Splits a list into consecutive batches of random sizes. */
export function batches<T>(list: T[], sizes: number[]): T[][] {
  const out: T[][] = [];
  for (let i = 0, s = 0; i < list.length; s++) {
    const n = 1 + (sizes.length ? sizes[s % sizes.length] : list.length);
    out.push(list.slice(i, i + n));
    i += n;
  }
  return out;
}
