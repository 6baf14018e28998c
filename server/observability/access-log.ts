// One JSON line per HTTP request on stdout (time, request id, method, route, status, duration,
// customer and prediction ids; feature values only at LOG_LEVEL=debug), the request id taken from
// X-Request-Id or generated and echoed, and each request run in its own server span and request
// context (what the workflow outbox copies into its webhook's headers).
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { SpanStatusCode } from "@opentelemetry/api";
import type { PredictionObserver, PredictionRecord } from "../contract/records.ts";
import { context, formatTraceparent, startRequestSpan } from "./trace-context.ts";

export type LogLevel = "off" | "info" | "debug";

interface RequestContext {
  requestId: string;
  /** The traceparent to pass on: this request's span, or the caller's trace when nothing records spans. */
  traceparent: string | null;
  records: PredictionRecord[];
}

const requests = new AsyncLocalStorage<RequestContext>();

/** A caller's request id is kept if it is short and plain; anything else is replaced. */
const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

export function logLevel(env: Record<string, string | undefined> = process.env): LogLevel {
  const v = (env.LOG_LEVEL ?? "info").toLowerCase();
  if (v === "off" || v === "info" || v === "debug") return v;
  throw new Error(`LOG_LEVEL: expected off, info or debug, got ${JSON.stringify(env.LOG_LEVEL)}`);
}

/** Headers that tie an outgoing call (the workflow webhook) to the request that caused it. */
export function correlationHeaders(): Record<string, string> {
  const r = requests.getStore();
  if (!r) return {};
  return r.traceparent ? { "x-request-id": r.requestId, traceparent: r.traceparent } : { "x-request-id": r.requestId };
}

/** An observer that notes, for the access log, the predictions a request made. */
export const requestRecords: PredictionObserver = {
  onPredictions(records) {
    const r = requests.getStore();
    if (r) for (const rec of records) r.records.push(rec);
  },
};

/** Wraps a request listener with the request id, span, context and access-log line. */
export function observeRequests(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  level: LogLevel = logLevel(),
  write: (line: string) => void = (line) => process.stdout.write(line),
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const t0 = performance.now();
    const sent = req.headers["x-request-id"];
    const requestId = typeof sent === "string" && REQUEST_ID.test(sent) ? sent : randomUUID();
    res.setHeader("x-request-id", requestId);
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const route = (q < 0 ? url : url.slice(0, q)).slice(0, 200);
    const { span, ctx } = startRequestSpan(`${req.method} ${route}`, req.headers.traceparent);
    const state: RequestContext = { requestId, traceparent: formatTraceparent(span.spanContext()), records: [] };
    res.once("close", () => {
      span.setAttribute("http.response.status_code", res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      if (level === "off") return;
      const line: Record<string, unknown> = {
        time: new Date().toISOString(), level: "info", request_id: requestId, method: req.method, route, status: res.statusCode,
        duration_ms: Math.round((performance.now() - t0) * 1000) / 1000,
      };
      if (state.traceparent) line.trace_id = state.traceparent.slice(3, 35);
      const recs = state.records;
      if (recs.length === 1) Object.assign(line, { customer_id: recs[0].customer_id, prediction_id: recs[0].prediction_id });
      else if (recs.length > 1) line.customers = recs.length;
      if (level === "debug" && recs.length) line.inputs = recs.map((r) => ({ customer_id: r.customer_id, ...r.inputs }));
      write(JSON.stringify(line) + "\n");
    });
    requests.run(state, () => context.with(ctx, () => handler(req, res)));
  };
}
