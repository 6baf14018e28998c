// W3C Trace Context: the `traceparent` header read from requests and written to the workflow
// webhook, and the spans of a request through @opentelemetry/api. Nothing is recorded or exported
// unless an OpenTelemetry SDK is registered (export.ts, when an OTLP endpoint is configured, or the
// user's own; README: Monitoring); without one every span is the API's non-recording span, which
// carries an incoming trace id through unchanged.
import { context, ProxyTracerProvider, ROOT_CONTEXT, SpanKind, trace, TraceFlags, type Context, type Span, type SpanContext, type Tracer } from "@opentelemetry/api";

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const TRACER = "churn-intervention";

/** The span context a valid `traceparent` names (version 00; all-zero ids are invalid), else null. */
export function parseTraceparent(header: string | string[] | undefined): SpanContext | null {
  const m = typeof header === "string" ? TRACEPARENT.exec(header.trim()) : null;
  if (!m || /^0+$/.test(m[1]) || /^0+$/.test(m[2])) return null;
  return { traceId: m[1], spanId: m[2], traceFlags: parseInt(m[3], 16) & TraceFlags.SAMPLED, isRemote: true };
}

export function formatTraceparent(c: SpanContext): string | null {
  if (!trace.isSpanContextValid(c)) return null;
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & TraceFlags.SAMPLED).toString(16).padStart(2, "0")}`;
}

/** The server span of one HTTP request, child of the caller's `traceparent` if it sent one. */
export function startRequestSpan(name: string, traceparent: string | string[] | undefined): { span: Span; ctx: Context } {
  const parent = parseTraceparent(traceparent);
  const parentCtx = parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
  // Looked up each time: the API's proxy tracer would keep the first SDK tracer after that SDK is unregistered.
  const span = trace.getTracer(TRACER).startSpan(name, { kind: SpanKind.SERVER }, parentCtx);
  return { span, ctx: trace.setSpan(parentCtx, span) };
}

/** The registered SDK's tracer, or undefined without one (the API's proxy then has no delegate). */
function sdkTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider();
  return provider instanceof ProxyTracerProvider ? provider.getDelegateTracer(TRACER) : provider.getTracer(TRACER);
}

export function sdkRegistered(): boolean {
  return sdkTracer() !== undefined;
}

/**
 * Runs `fn` inside a child span of the active one (a stage of scoring: features, churn model,
 * forest, decision, log). Without an SDK it is a plain call: the API's no-op span and context
 * switch had cost ~0.3 µs a stage, 3% of a single predict.
 */
export function traced<T>(name: string, fn: () => T): T {
  const tracer = sdkTracer();
  if (!tracer) return fn();
  return tracer.startActiveSpan(name, (span) => {
    try {
      return fn();
    } catch (err) {
      span.recordException(err as Error);
      throw err;
    } finally {
      span.end();
    }
  });
}

export { context };
