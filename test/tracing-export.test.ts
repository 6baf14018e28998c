// OTLP trace export: with OTEL_EXPORTER_OTLP_ENDPOINT set the server registers an SDK and, on
// close, flushes the request's spans (JSON over HTTP) to the endpoint — here a local receiver;
// with no endpoint nothing is registered and nothing is sent. The unset case runs first: once an
// SDK has been imported it stays in the module cache.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { exportingTraces } from "../server/observability/export.ts";
import { sdkRegistered } from "../server/observability/trace-context.ts";
import { post, SEED_REQUEST, testServer } from "./helpers/server.ts";

interface Received {
  path: string;
  contentType: string | undefined;
  body: string;
}

const received: Received[] = [];
const receiver = createServer((req, res) => {
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk: string) => (body += chunk));
  req.on("end", () => {
    received.push({ path: req.url ?? "", contentType: req.headers["content-type"], body });
    res.setHeader("content-type", "application/json");
    res.end("{}");
  });
});
let endpoint: string;

const VARIABLES = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"] as const;
const saved = Object.fromEntries(VARIABLES.map((v) => [v, process.env[v]]));

beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterEach(() => {
  for (const v of VARIABLES) {
    if (saved[v] === undefined) delete process.env[v];
    else process.env[v] = saved[v];
  }
});
afterAll(() => receiver.close());

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";

async function predictAndClose(): Promise<void> {
  const server = await testServer();
  try {
    const res = await post(`${server.url}/predict`, SEED_REQUEST, { "content-type": "application/json", traceparent: `00-${TRACE}-${CALLER_SPAN}-01` });
    expect(res.status).toBe(200);
  } finally {
    await server.close();
  }
}

interface OtlpSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
}
interface OtlpAttribute {
  key: string;
  value: { stringValue?: string };
}

it("registers no SDK and sends nothing when no endpoint is configured", async () => {
  for (const v of VARIABLES) delete process.env[v];
  await predictAndClose();
  expect(exportingTraces()).toBe(false);
  expect(sdkRegistered()).toBe(false);
  // The batch processor would have exported on close; give a stray request time to arrive anyway.
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(received).toEqual([]);
});

it("exports the request's spans to OTEL_EXPORTER_OTLP_ENDPOINT, flushed on close, as churn-recommender", async () => {
  for (const v of VARIABLES) delete process.env[v];
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
  await predictAndClose();
  // Closing unregisters the provider: the process is back to plain calls.
  expect(exportingTraces()).toBe(false);
  expect(sdkRegistered()).toBe(false);

  expect(received.length).toBeGreaterThan(0);
  for (const r of received) expect(r).toMatchObject({ path: "/v1/traces", contentType: "application/json" });
  const resourceSpans = received.flatMap((r) => JSON.parse(r.body).resourceSpans as { resource: { attributes: OtlpAttribute[] }; scopeSpans: { spans: OtlpSpan[] }[] }[]);
  for (const rs of resourceSpans) {
    expect(rs.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue).toBe("churn-recommender");
  }
  const spans = resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((s) => s.spans));
  const request = spans.find((s) => s.name === "POST /predict")!;
  expect(request).toMatchObject({ traceId: TRACE, parentSpanId: CALLER_SPAN });
  for (const stage of ["features", "churn_model", "forest", "decision", "log"]) {
    expect(spans.find((s) => s.name === stage), stage).toMatchObject({ traceId: TRACE, parentSpanId: request.spanId });
  }
});

it("takes OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as the full URL and OTEL_SERVICE_NAME as the service", async () => {
  for (const v of VARIABLES) delete process.env[v];
  received.length = 0;
  process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = `${endpoint}/collector/traces`;
  process.env.OTEL_SERVICE_NAME = "churn-canary";
  await predictAndClose();
  expect(received.length).toBeGreaterThan(0);
  expect(received.every((r) => r.path === "/collector/traces")).toBe(true);
  const body = received.map((r) => r.body).join("\n");
  expect(body).toContain('"stringValue":"churn-canary"');
  expect(body).toContain('"name":"churn_model"');
});
