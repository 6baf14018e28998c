// Logs and traces of a request: the access-log line and request id, spans for each stage of
// scoring under the caller's traceparent (with a recording tracer: the service ships no SDK),
// and the request id and traceparent handed on to the workflow webhook.
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import type { RunningServer } from "../server/http/server.ts";
import { observeRequests, requestRecords } from "../server/observability/access-log.ts";
import { formatTraceparent, parseTraceparent } from "../server/observability/trace-context.ts";
import { readCsvRecords } from "./helpers/customers.ts";
import { testServer } from "./helpers/server.ts";
import { recordSpans } from "./helpers/test-tracer.ts";

const spans = recordSpans();
const webhook: IncomingHttpHeaders[] = [];
const receiver = createServer((req, res) => {
  webhook.push(req.headers);
  req.resume();
  req.on("end", () => res.end("ok"));
});
let server: RunningServer;

beforeAll(async () => {
  // The test run turns the access log off (vitest.config.ts); this file is about it.
  process.env.LOG_LEVEL = "info";
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  server = await testServer(["--webhook-url", `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`]);
});
afterAll(async () => {
  await server?.close();
  receiver.close();
});

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";

it("logs one line per request, continues the caller's trace through each stage and hands it to the webhook", async () => {
  const lines: string[] = [];
  const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  let res: Response;
  try {
    res = await fetch(`${server.url}/batch-predict`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "req-123", traceparent: `00-${TRACE}-${CALLER_SPAN}-01` },
      body: JSON.stringify({ customers: readCsvRecords(100) }),
    });
    await res.json();
    await vi.waitFor(() => expect(lines.some((l) => l.includes('"req-123"'))).toBe(true));
  } finally {
    write.mockRestore();
  }
  expect(res.headers.get("x-request-id")).toBe("req-123");
  const line = JSON.parse(lines.find((l) => l.includes('"req-123"'))!);
  expect(line).toMatchObject({ level: "info", request_id: "req-123", method: "POST", route: "/batch-predict", status: 200, customers: 100, trace_id: TRACE });
  expect(line.duration_ms).toBeGreaterThan(0);
  expect(line.inputs).toBeUndefined();

  const request = spans.find((s) => s.name === "POST /batch-predict")!;
  expect(request).toMatchObject({ traceId: TRACE, parentSpanId: CALLER_SPAN });
  expect(request.attributes["http.response.status_code"]).toBe(200);
  for (const stage of ["features", "churn_model", "forest", "decision", "log"]) {
    expect(spans.find((s) => s.name === stage), stage).toMatchObject({ traceId: TRACE, parentSpanId: request.spanId });
  }

  // The workflow hears of it with this request's span as parent, and its request id.
  await vi.waitFor(() => expect(webhook.length).toBeGreaterThan(0), { timeout: 5000 });
  expect(webhook[0]["x-request-id"]).toBe("req-123");
  expect(webhook[0].traceparent).toBe(`00-${TRACE}-${request.spanId}-01`);
  await vi.waitFor(() => expect(server.app.outbox.status().pending).toBe(0), { timeout: 5000 });
});

it("generates a request id when the caller's is missing or unusable", async () => {
  const plain = await fetch(`${server.url}/health`);
  expect(plain.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  const odd = await fetch(`${server.url}/health`, { headers: { "x-request-id": "bad id\twith spaces" } });
  expect(odd.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
});

it("logs feature values only at debug level, and nothing when off", async () => {
  const record = { customer_id: "c1", prediction_id: "p1", inputs: { tenure: 3 } } as never;
  const run = async (level: "off" | "info" | "debug") => {
    const out: string[] = [];
    const s = createServer(observeRequests((_req, res) => {
      requestRecords.onPredictions([record]);
      res.end("{}");
    }, level, (l) => out.push(l)));
    await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
    await (await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/predict`)).text();
    await new Promise((resolve) => s.close(resolve));
    return out.map((l) => JSON.parse(l));
  };
  expect(await run("off")).toEqual([]);
  const [info] = await run("info");
  expect(info).toMatchObject({ customer_id: "c1", prediction_id: "p1" });
  expect(info.inputs).toBeUndefined();
  const [debug] = await run("debug");
  expect(debug.inputs).toEqual([{ customer_id: "c1", tenure: 3 }]);
});

it("reads and writes W3C traceparent, refusing invalid ones", () => {
  const c = parseTraceparent(`00-${TRACE}-${CALLER_SPAN}-01`)!;
  expect(formatTraceparent(c)).toBe(`00-${TRACE}-${CALLER_SPAN}-01`);
  for (const bad of [undefined, "", `01-${TRACE}-${CALLER_SPAN}-01`, `00-${"0".repeat(32)}-${CALLER_SPAN}-01`, `00-${TRACE}-${"0".repeat(16)}-01`, `00-${TRACE.toUpperCase()}-${CALLER_SPAN}-01`]) {
    expect(parseTraceparent(bad), String(bad)).toBeNull();
  }
});
