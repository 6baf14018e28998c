// What every layer says when a caller got something wrong: the problems by field path, and the
// HTTP status they map to. Never a 500 for bad input.

/** A problem with a request, by field path (as zod reports them). */
export interface FieldIssue {
  path: (string | number)[];
  message: string;
}

/**
 * Anything a client sent that the service refuses: 400 (BAD_REQUEST) with every problem listed,
 * 404 (NOT_FOUND) for a customer the service knows nothing about, 413 (PAYLOAD_TOO_LARGE) when a
 * limit is exceeded, 415 for a body that is not JSON.
 */
export class RequestError extends Error {
  constructor(
    message: string,
    readonly issues: FieldIssue[] = [],
    readonly status: 400 | 404 | 413 | 415 = 400,
  ) {
    super(message);
    this.name = "RequestError";
  }
}

/**
 * The service cannot do this now, through no fault of the request (e.g. the prediction log
 * cannot write, so a prediction could not be logged): 503 UNAVAILABLE with `retry-after`.
 */
export class UnavailableError extends Error {
  constructor(
    message: string,
    /** Seconds after which a retry may succeed. */
    readonly retryAfterS = 1,
  ) {
    super(message);
    this.name = "UnavailableError";
  }
}
