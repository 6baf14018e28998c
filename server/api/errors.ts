// One mapping of failures to what a client sees, for tRPC and REST alike: a client's mistake
// becomes 400/413 with every problem by field path; anything else a generic 500 whose details stay
// in the server's log. Never a stack trace in a response.
import { TRPCError } from "@trpc/server";
import { ZodError } from "zod";
import { RequestError, UnavailableError, type FieldIssue } from "../contract/errors.ts";

export interface ErrorBody {
  error: { code: string; message: string; issues: FieldIssue[] };
}

export function zodIssues(err: ZodError, prefix: (string | number)[] = []): FieldIssue[] {
  return err.issues.map((i) => ({
    path: [...prefix, ...i.path.filter((p): p is string | number => typeof p !== "symbol")],
    message: i.message,
  }));
}

export function toRequestError(err: unknown): RequestError | null {
  if (err instanceof RequestError) return err;
  if (err instanceof ZodError) return new RequestError("invalid request", zodIssues(err));
  return null;
}

/** Issues listed in one error body: a bad batch can have one per customer, and the answer stays small. */
export const MAX_LISTED_ISSUES = 100;

/** The first `MAX_LISTED_ISSUES` issues, and the message saying how many more there were. */
export function listed(message: string, issues: FieldIssue[]): { message: string; issues: FieldIssue[] } {
  if (issues.length <= MAX_LISTED_ISSUES) return { message, issues };
  return { message: `${message}: ${issues.length} problems, the first ${MAX_LISTED_ISSUES} listed (${issues.length - MAX_LISTED_ISSUES} more)`, issues: issues.slice(0, MAX_LISTED_ISSUES) };
}

const CODES = { 400: "BAD_REQUEST", 404: "NOT_FOUND", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE" } as const;

/** The HTTP status and body of a failure. */
export function errorResponse(err: unknown): { status: number; body: ErrorBody; retryAfterS?: number } {
  if (err instanceof UnavailableError) return { status: 503, body: { error: { code: "UNAVAILABLE", message: err.message, issues: [] } }, retryAfterS: err.retryAfterS };
  const re = toRequestError(err);
  if (re) {
    return {
      status: re.status,
      body: { error: { code: CODES[re.status], ...listed(re.message, re.issues) } },
    };
  }
  console.error("internal error:", err);
  return { status: 500, body: { error: { code: "INTERNAL_SERVER_ERROR", message: "internal error", issues: [] } } };
}

/** A service call for tRPC: client mistakes become BAD_REQUEST / PAYLOAD_TOO_LARGE with their issues. */
export async function trpcCall<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const re = toRequestError(err);
    if (re) throw new TRPCError({ code: re.status === 400 ? "BAD_REQUEST" : CODES[re.status], message: re.message, cause: re });
    if (err instanceof UnavailableError) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: err.message, cause: err });
    throw err;
  }
}
