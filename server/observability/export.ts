// OTLP/HTTP trace export, on only when the standard variables name an endpoint
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT): a tracer provider with a
// batch span processor and the OTLP JSON exporter (which reads those variables, and the OTLP
// headers and timeout, itself). Without them nothing is imported, so the SDK stays out of the
// process and `traced()` stays a plain call.
import { context, trace } from "@opentelemetry/api";
import { sdkRegistered } from "./trace-context.ts";

export interface TraceExport {
  /** Exports the spans still queued, then unregisters the provider. */
  shutdown(): Promise<void>;
}

let registered = false;

/** Whether this module's provider is registered (the SDK is loaded only then). */
export function exportingTraces(): boolean {
  return registered;
}

/**
 * Registers the exporting provider if an endpoint is configured; null if not, or if the process
 * already has one (this module's, for another server, or an SDK the user registered).
 */
export async function startTraceExport(): Promise<TraceExport | null> {
  const env = process.env;
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return null;
  if (registered || sdkRegistered()) return null;
  // Claimed before the imports so that two servers starting together register one provider.
  registered = true;
  try {
    const [{ BatchSpanProcessor, TracerProvider }, { OTLPTraceExporter }, { AsyncLocalStorageContextManager }, resources] = await Promise.all([
      import("@opentelemetry/sdk-trace"),
      import("@opentelemetry/exporter-trace-otlp-http"),
      import("@opentelemetry/context-async-hooks"),
      import("@opentelemetry/resources"),
    ]);
    // OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME (which wins) override the default name.
    const resource = resources.defaultResource()
      .merge(resources.resourceFromAttributes({ "service.name": "churn-recommender" }))
      .merge(resources.detectResources({ detectors: [resources.resourceAttributesEnvDetector, resources.serviceNameEnvDetector] }));
    const provider = new TracerProvider({ resource, spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter() })] });
    // Stage spans are children of the request span only with a context manager that follows async calls.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
    return {
      async shutdown() {
        try {
          await provider.shutdown();
        } catch (err) {
          console.warn(`trace export: ${(err as Error).message}`);
        } finally {
          trace.disable();
          context.disable();
          registered = false;
        }
      },
    };
  } catch (err) {
    registered = false;
    throw err;
  }
}
