// A recording OpenTelemetry tracer for tests, written against @opentelemetry/api alone (the service
// depends on no SDK): spans with their parent, and an AsyncLocalStorage context manager, which
// any SDK registers too.
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import {
  context, ROOT_CONTEXT, trace, TraceFlags,
  type Context, type ContextManager, type Span, type SpanContext, type SpanOptions, type Tracer, type TracerProvider,
} from "@opentelemetry/api";

export interface FinishedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  attributes: Record<string, unknown>;
}

class AlsContextManager implements ContextManager {
  private readonly als = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.als.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.als.run(ctx, () => fn.apply(thisArg, args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    return this;
  }
}

class RecordingSpan implements Span {
  private readonly ctx: SpanContext;
  readonly attributes: Record<string, unknown> = {};
  constructor(private name: string, private readonly parent: SpanContext | undefined, private readonly done: (s: FinishedSpan) => void) {
    this.ctx = { traceId: parent?.traceId ?? randomBytes(16).toString("hex"), spanId: randomBytes(8).toString("hex"), traceFlags: TraceFlags.SAMPLED };
  }
  spanContext() { return this.ctx; }
  setAttribute(k: string, v: unknown) { this.attributes[k] = v; return this; }
  setAttributes(a: Record<string, unknown>) { Object.assign(this.attributes, a); return this; }
  addEvent() { return this; }
  addLink() { return this; }
  addLinks() { return this; }
  setStatus() { return this; }
  updateName(name: string) { this.name = name; return this; }
  end() { this.done({ name: this.name, traceId: this.ctx.traceId, spanId: this.ctx.spanId, parentSpanId: this.parent?.spanId ?? null, attributes: this.attributes }); }
  isRecording() { return true; }
  recordException() {}
}

class RecordingTracer implements Tracer {
  constructor(private readonly finished: FinishedSpan[]) {}
  startSpan(name: string, _options?: SpanOptions, ctx: Context = context.active()): Span {
    return new RecordingSpan(name, trace.getSpanContext(ctx), (s) => this.finished.push(s));
  }
  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...rest: unknown[]): ReturnType<F> {
    const fn = rest[rest.length - 1] as F;
    const ctx = (rest.length === 3 ? rest[1] : context.active()) as Context;
    const span = this.startSpan(name, undefined, ctx);
    return context.with(trace.setSpan(ctx, span), () => fn(span)) as ReturnType<F>;
  }
}

/** Registers a recording tracer provider and context manager for this process; returns the finished spans. */
export function recordSpans(): FinishedSpan[] {
  const finished: FinishedSpan[] = [];
  const provider: TracerProvider = { getTracer: () => new RecordingTracer(finished) };
  context.setGlobalContextManager(new AlsContextManager());
  trace.setGlobalTracerProvider(provider);
  return finished;
}
