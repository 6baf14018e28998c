// Customer events (DESIGN section 8): one strict zod schema per type, and the ingest request (one
// event or `{ events: [...] }`). Only the shape is checked here; whether a store can still apply an
// event (its `at` before the compaction cutoff) is the store's answer (CustomerDataRefusal).
import { z } from "zod";

/** The most events one ingest request may carry. */
export const EVENT_BATCH_LIMIT = 10_000;

export const EVENT_TYPES = ["signup", "profile", "billing", "login", "support_ticket", "usage"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Text as PostgreSQL stores it: no NUL character. */
const Text = z.string().min(1).max(256).regex(/^[^\u0000]*$/, "must not contain a NUL character");
/** ISO-8601 with a zone (`Z` or `+hh:mm`); fractions below the millisecond are dropped when stored. */
const At = z.iso.datetime({ offset: true });
const Amount = z.number().min(0).finite();

const base = {
  event_id: Text,
  customer_id: Text,
  at: At,
  /** false: apply without scoring, though the type is in the trigger set. */
  trigger: z.boolean().optional(),
};

/** The customer fields a `profile` event may set; for each, the value of the latest `at` wins. */
export const ProfileFields = {
  contract_type: Text,
  internet_service: Text,
  payment_method: Text,
  paperless_billing: z.boolean(),
  senior_citizen: z.boolean(),
  num_services: z.number().int().min(0),
  monthly_charges: Amount,
};
export type ProfileField = keyof typeof ProfileFields;
export const PROFILE_FIELDS = Object.keys(ProfileFields) as ProfileField[];

export const SignupEvent = z.object({ ...base, type: z.literal("signup") }).strict();
export const ProfileEvent = z
  .object({ ...base, type: z.literal("profile"), ...partial(ProfileFields) })
  .strict()
  .refine((e) => PROFILE_FIELDS.some((f) => e[f] !== undefined), {
    message: `a profile event sets at least one of ${PROFILE_FIELDS.join(", ")}`,
  });
export const BillingEvent = z.object({ ...base, type: z.literal("billing"), amount: Amount, paid_late: z.boolean().default(false) }).strict();
export const LoginEvent = z.object({ ...base, type: z.literal("login") }).strict();
export const SupportTicketEvent = z.object({ ...base, type: z.literal("support_ticket") }).strict();
export const UsageEvent = z.object({ ...base, type: z.literal("usage"), amount: Amount }).strict();

export const CustomerEvent = z.discriminatedUnion(
  "type",
  [SignupEvent, ProfileEvent, BillingEvent, LoginEvent, SupportTicketEvent, UsageEvent],
  { error: (issue) => (issue.code === "invalid_union" ? `unknown event type; expected one of ${EVENT_TYPES.join(", ")}` : undefined) },
);
export type CustomerEvent = z.output<typeof CustomerEvent>;

export const EventBatch = z.object({ events: z.array(CustomerEvent).min(1).max(EVENT_BATCH_LIMIT) }).strict();

/** The body of `POST /events` / `events.ingest`, for types and the API document; parse it with parseIngestRequest. */
export const IngestRequest = z.union([CustomerEvent, EventBatch]);
export type IngestRequest = z.input<typeof IngestRequest>;

/**
 * The events of an ingest request. Throws a ZodError whose issues carry the field path
 * (`["events", 3, "amount"]`, `["type"]`): the plain union reports any mistake as one pathless
 * "invalid input", so the form is chosen by the `events` key before parsing.
 */
export function parseIngestRequest(input: unknown): CustomerEvent[] {
  if (typeof input === "object" && input !== null && "events" in input) return EventBatch.parse(input).events;
  return [CustomerEvent.parse(input)];
}

function partial<T extends Record<string, z.ZodType>>(shape: T): { [K in keyof T]: z.ZodOptional<T[K]> } {
  return Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v.optional()])) as { [K in keyof T]: z.ZodOptional<T[K]> };
}

/** The events of an ingest request and whether they came as a batch: what the service takes. */
export interface IngestInput {
  events: CustomerEvent[];
  batch: boolean;
}

/** The ingest request as a schema for the transports: typed as `IngestRequest`, issues with their paths. */
export const IngestInput = z.unknown().transform((input, ctx): IngestInput => {
  try {
    return { events: parseIngestRequest(input), batch: typeof input === "object" && input !== null && "events" in input };
  } catch (err) {
    for (const issue of (err as z.ZodError).issues) ctx.addIssue({ ...issue, code: "custom", message: issue.message, path: issue.path });
    return z.NEVER;
  }
}) as unknown as z.ZodType<IngestInput, IngestRequest>;
