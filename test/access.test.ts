// Access control end to end (DESIGN section 11): API keys and scopes over REST, tRPC over HTTP and
// tRPC over WebSocket, CORS and the Origin check of upgrades, JSON-only mutations, the
// configuration's refusals, and a server without keys answering as before.
import { mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTRPCClient, createWSClient, wsLink } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { WebSocket } from "ws";
import { createChurnClient, type AppRouter } from "churn-intervention/client";
import { REST_PATHS } from "../server/api/rest.ts";
import { appRouter } from "../server/api/router.ts";
import { PROCEDURE_SCOPES, ROUTE_SCOPES, UNAUTHENTICATED } from "../server/api/scopes.ts";
import { SCOPES, type Scope } from "../server/contract/access.ts";
import { loadConfig } from "../server/config.ts";
import { startServer, type RunningServer } from "../server/http/server.ts";
import { SEED_REQUEST, testServer } from "./helpers/server.ts";

/** One key per scope, and one with two. */
const KEYS = Object.fromEntries(SCOPES.map((s) => [s, `test-${s}-key-0123456789`])) as Record<Scope, string>;
const API_KEYS = JSON.stringify([...SCOPES.map((s) => ({ key: KEYS[s], scopes: [s] })), { key: "test-both-key", scopes: ["predict", "monitor"] }]);
const APP_ORIGIN = "http://app.example";
const EVIL_ORIGIN = "http://evil.example";
const WRONG_KEY = "test-not-a-configured-key";

const dataDir = () => mkdtempSync(join(tmpdir(), "churn-access-"));

function securedServer(env: Record<string, string> = {}): Promise<RunningServer> {
  return startServer(loadConfig(["--port", "0", "--host", "127.0.0.1", "--data-dir", dataDir()], { API_KEYS, CORS_ORIGINS: APP_ORIGIN, ...env }));
}

/** A request by node:http, which sends any header (fetch would refuse `Origin` in some runtimes). */
function call(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>((resolve, reject) => {
    const req = request(url, { method: opts.method ?? "GET", headers: opts.headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const JSON_TYPE = { "content-type": "application/json" };

/** Whether a WebSocket upgrade with `origin` is accepted (open) or refused (its HTTP status). */
function upgrade(url: string, origin?: string): Promise<"open" | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}/trpc`, origin ? { origin } : {});
    ws.once("open", () => {
      ws.close();
      resolve("open");
    });
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode!);
      ws.terminate();
    });
    ws.once("error", (err) => reject(err));
  });
}

const UNAUTHORIZED_BODY = { error: { code: "UNAUTHORIZED", message: UNAUTHENTICATED, issues: [] } };

describe("the scope table", () => {
  it("lists every tRPC procedure and every REST route", () => {
    const procedures = Object.keys(appRouter._def.procedures);
    expect(procedures.length).toBeGreaterThan(8);
    expect(procedures.filter((p) => !Object.hasOwn(PROCEDURE_SCOPES, p))).toEqual([]);
    expect(REST_PATHS.filter((p) => !Object.hasOwn(ROUTE_SCOPES, p))).toEqual([]);
  });
});

describe("with API keys", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await securedServer();
  });
  afterAll(() => server?.close());

  const IMPORTED = "access-imported";
  /** Each REST route, the scope it needs and a request that succeeds with it, in an order where each can. */
  const routes: { method: "GET" | "POST"; path: string; scope: Scope; body?: unknown }[] = [
    { method: "POST", path: "/predict", scope: "predict", body: { ...SEED_REQUEST, customer_id: "access-rest" } },
    { method: "POST", path: "/batch-predict", scope: "predict", body: { customers: [{ ...SEED_REQUEST, customer_id: "access-batch" }] } },
    { method: "POST", path: "/plan-budget", scope: "predict", body: { budget: 100, customers: [] } },
    { method: "POST", path: "/outcomes", scope: "outcomes", body: { customer_id: "access-rest", churned: false } },
    { method: "POST", path: "/events", scope: "events", body: { event_id: "access-e1", customer_id: "access-events", type: "login", at: "2026-11-01T00:00:00Z", trigger: false } },
    { method: "POST", path: "/customers/import", scope: "events", body: { rows: [{ customer_id: IMPORTED, tenure: 5 }] } },
    { method: "GET", path: `/customers/${IMPORTED}`, scope: "predict" },
    { method: "GET", path: "/metrics", scope: "monitor" },
    { method: "GET", path: "/console", scope: "monitor" },
    { method: "POST", path: "/admin/reload", scope: "admin", body: {} },
  ];

  for (const r of routes) {
    it(`${r.method} ${r.path}: no key and a wrong key 401 (the same answer), another scope 403, "${r.scope}" 200`, async () => {
      const send = (headers: Record<string, string>) =>
        call(server.url + r.path, { method: r.method, headers: r.body === undefined ? headers : { ...JSON_TYPE, ...headers }, body: r.body === undefined ? undefined : JSON.stringify(r.body) });
      const service = server.app.service;
      const calls = [vi.spyOn(service, "predict"), vi.spyOn(service, "batchPredict"), vi.spyOn(service, "recordOutcomes"), vi.spyOn(service, "ingestEvents"), vi.spyOn(service, "importCustomers"), vi.spyOn(service, "getCustomer"), vi.spyOn(service, "reload"), vi.spyOn(service, "planBudget")];
      try {
        const none = await send({});
        const wrong = await send(bearer(WRONG_KEY));
        const malformed = await send({ authorization: KEYS[r.scope] });
        for (const res of [none, wrong, malformed]) {
          expect(res.status).toBe(401);
          expect(JSON.parse(res.text)).toEqual(UNAUTHORIZED_BODY);
          expect(res.headers["www-authenticate"]).toMatch(r.path === "/console" ? /^Basic / : /^Bearer$/);
        }
        const other = await send(bearer(KEYS[r.scope === "predict" ? "monitor" : "predict"]));
        expect(other.status).toBe(403);
        expect(JSON.parse(other.text).error).toMatchObject({ code: "FORBIDDEN", message: expect.stringContaining(`"${r.scope}" scope`) });
        for (const spy of calls) expect(spy).not.toHaveBeenCalled();
        const ok = await send(bearer(KEYS[r.scope]));
        expect(ok.status, ok.text).toBe(200);
      } finally {
        for (const spy of calls) spy.mockRestore();
      }
    });
  }

  it("a key with two scopes has both", async () => {
    const res = await call(`${server.url}/metrics`, { headers: bearer("test-both-key") });
    expect(res.status).toBe(200);
    expect((await call(`${server.url}/predict`, { method: "POST", headers: { ...JSON_TYPE, ...bearer("test-both-key") }, body: JSON.stringify({ ...SEED_REQUEST, customer_id: "access-both" }) })).status).toBe(200);
  });

  it("the console page asks a browser for the key (Basic, the key as the password) and opens with a monitor key", async () => {
    const asked = await call(`${server.url}/console`);
    expect(asked.status).toBe(401);
    expect(asked.headers["www-authenticate"]).toMatch(/^Basic realm="churn console"/);
    const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`anyone:${password}`).toString("base64")}` });
    expect((await call(`${server.url}/console`, { headers: basic(KEYS.monitor) })).status).toBe(200);
    expect((await call(`${server.url}/console`, { headers: basic(WRONG_KEY) })).status).toBe(401);
    expect((await call(`${server.url}/console`, { headers: basic(KEYS.predict) })).status).toBe(403);
    expect((await call(`${server.url}/metrics`)).headers["www-authenticate"]).toBe("Bearer");
  });

  it("/health, /health/live, /health/ready and /openapi.json stay open, and the health query too", async () => {
    for (const path of ["/health", "/health/live", "/health/ready", "/openapi.json"]) expect((await call(server.url + path)).status, path).toBe(200);
    const anonymous = createChurnClient(server.url);
    expect((await anonymous.health.query()).ready).toBe(true);
  });

  it("tRPC over HTTP: no key and a wrong key UNAUTHORIZED (401), another scope FORBIDDEN (403), the right one served", async () => {
    const as = (apiKey?: string) => createChurnClient(server.url, { apiKey });
    const cases: { scope: Scope; call: (c: ReturnType<typeof as>) => Promise<unknown> }[] = [
      { scope: "predict", call: (c) => c.predict.mutate({ ...SEED_REQUEST, customer_id: "access-trpc" }) },
      { scope: "outcomes", call: (c) => c.recordOutcome.mutate({ customer_id: "access-trpc", churned: true }) },
      { scope: "events", call: (c) => c.events.ingest.mutate({ event_id: "access-e2", customer_id: "access-trpc-events", type: "login", at: "2026-11-01T00:00:00Z", trigger: false }) },
      { scope: "predict", call: (c) => c.customers.get.query({ customer_id: IMPORTED }) },
    ];
    for (const c of cases) {
      for (const key of [undefined, WRONG_KEY]) {
        await expect(c.call(as(key))).rejects.toMatchObject({ message: UNAUTHENTICATED, data: { code: "UNAUTHORIZED", httpStatus: 401 } });
      }
      const other = c.call(as(KEYS[c.scope === "predict" ? "events" : "predict"]));
      await expect(other).rejects.toMatchObject({ message: expect.stringContaining(`"${c.scope}" scope`), data: { code: "FORBIDDEN", httpStatus: 403 } });
      await expect(c.call(as(KEYS[c.scope]))).resolves.toBeTruthy();
    }
  });

  /** The first message of a metrics subscription, or the error that ended it. */
  function firstMetrics(apiKey?: string): Promise<{ data?: unknown; error?: { message: string; data?: { code: string } } }> {
    const client = createChurnClient(server.url, { WebSocket, apiKey });
    return new Promise((resolve) => {
      const sub = client.monitoring.metrics.subscribe(
        { interval_ms: 100 },
        {
          onData: (data) => {
            sub.unsubscribe();
            client.close();
            resolve({ data });
          },
          onError: (error) => {
            client.close();
            resolve({ error: error as never });
          },
        },
      );
    });
  }

  it("tRPC over WebSocket: a metrics subscription needs the monitor scope, sent in the connection parameters", async () => {
    const ok = await firstMetrics(KEYS.monitor);
    expect(ok.data).toMatchObject({ requests_total: expect.any(Number) });
    const forbidden = await firstMetrics(KEYS.predict);
    expect(forbidden.error).toMatchObject({ message: expect.stringContaining('"monitor" scope'), data: { code: "FORBIDDEN" } });
    for (const key of [undefined, WRONG_KEY]) {
      const refused = await firstMetrics(key);
      expect(refused.error).toMatchObject({ message: UNAUTHENTICATED, data: { code: "UNAUTHORIZED" } });
    }
  });

  it("tRPC over WebSocket: a mutation without its scope is refused and does nothing", async () => {
    const predict = vi.spyOn(server.app.service, "predict");
    const overWs = (key: string) => {
      const ws = createWSClient({ url: `${server.url.replace(/^http/, "ws")}/trpc`, WebSocket: WebSocket as never, connectionParams: bearer(key) });
      return { ws, client: createTRPCClient<AppRouter>({ links: [wsLink({ client: ws })] }) };
    };
    const monitorOnly = overWs(KEYS.monitor);
    const wrong = overWs(WRONG_KEY);
    try {
      await expect(monitorOnly.client.predict.mutate({ ...SEED_REQUEST, customer_id: "access-ws" })).rejects.toMatchObject({ data: { code: "FORBIDDEN" } });
      await expect(wrong.client.predict.mutate({ ...SEED_REQUEST, customer_id: "access-ws" })).rejects.toMatchObject({ message: UNAUTHENTICATED, data: { code: "UNAUTHORIZED" } });
      expect(predict).not.toHaveBeenCalled();
    } finally {
      predict.mockRestore();
      monitorOnly.ws.close();
      wrong.ws.close();
    }
  });

  it("CORS: a listed origin gets access-control-allow-origin and its preflight; others get neither", async () => {
    const allowed = await call(`${server.url}/health`, { headers: { origin: APP_ORIGIN } });
    expect(allowed.headers["access-control-allow-origin"]).toBe(APP_ORIGIN);
    const other = await call(`${server.url}/health`, { headers: { origin: EVIL_ORIGIN } });
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();

    const preflight = (origin: string) =>
      call(`${server.url}/predict`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" } });
    const ok = await preflight(APP_ORIGIN);
    expect(ok.status).toBe(204);
    expect(ok.headers["access-control-allow-origin"]).toBe(APP_ORIGIN);
    expect(ok.headers["access-control-allow-headers"]).toMatch(/authorization/);
    expect(ok.headers["access-control-allow-methods"]).toMatch(/POST/);
    const refused = await preflight(EVIL_ORIGIN);
    expect(refused.status).toBe(403);
    expect(refused.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("WebSocket upgrades: refused from an unlisted origin, accepted from a listed one, the server's own, or none", async () => {
    expect(await upgrade(server.url, EVIL_ORIGIN)).toBe(403);
    expect(await upgrade(server.url, "null")).toBe(403);
    expect(await upgrade(server.url, APP_ORIGIN)).toBe("open");
    expect(await upgrade(server.url, server.url)).toBe("open");
    expect(await upgrade(server.url)).toBe("open");
  });

  it("the access log never carries a key", async () => {
    const lines: string[] = [];
    const level = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = "debug";
    const logged = await securedServer().finally(() => (process.env.LOG_LEVEL = level));
    const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => (lines.push(String(chunk)), true));
    try {
      await call(`${logged.url}/predict`, { method: "POST", headers: { ...JSON_TYPE, ...bearer(KEYS.predict) }, body: JSON.stringify({ ...SEED_REQUEST, customer_id: "access-log" }) });
      await call(`${logged.url}/predict`, { method: "POST", headers: { ...JSON_TYPE, ...bearer(WRONG_KEY) }, body: "{}" });
      await call(`${logged.url}/trpc/customers.get?input=${encodeURIComponent(JSON.stringify({ customer_id: IMPORTED }))}`, { headers: bearer(KEYS.events) });
    } finally {
      write.mockRestore();
      await logged.close();
    }
    expect(lines.filter((l) => l.includes('"route"')).length).toBeGreaterThanOrEqual(3);
    for (const secret of [KEYS.predict, WRONG_KEY, KEYS.events, "Bearer"]) expect(lines.join("")).not.toContain(secret);
  });
});

describe("JSON-only mutations", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await securedServer();
  });
  afterAll(() => server?.close());

  it("a text/plain POST to /admin/reload or to a tRPC mutation is 415 and does nothing, even with the right key", async () => {
    const reload = vi.spyOn(server.app.service, "reload");
    const predict = vi.spyOn(server.app.service, "predict");
    try {
      const plain = (path: string, key: string) =>
        call(server.url + path, { method: "POST", headers: { "content-type": "text/plain", ...bearer(key) }, body: JSON.stringify({ ...SEED_REQUEST, customer_id: "access-plain" }) });
      for (const res of [await plain("/admin/reload", KEYS.admin), await plain("/trpc/predict", KEYS.predict), await plain("/trpc/predict", WRONG_KEY)]) {
        expect(res.status).toBe(415);
        expect(JSON.parse(res.text).error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
      }
      const form = await call(`${server.url}/trpc/predict`, { method: "POST", headers: { "content-type": "multipart/form-data; boundary=x", ...bearer(KEYS.predict) }, body: "--x--\r\n" });
      expect(form.status).toBe(415);
      expect(reload).not.toHaveBeenCalled();
      expect(predict).not.toHaveBeenCalled();
    } finally {
      reload.mockRestore();
      predict.mockRestore();
    }
  });

  it("/admin/reload takes {} and nothing else", async () => {
    const res = await call(`${server.url}/admin/reload`, { method: "POST", headers: { ...JSON_TYPE, ...bearer(KEYS.admin) }, body: JSON.stringify({ force: true }) });
    expect(res.status).toBe(400);
  });
});

describe("configuration", () => {
  const refused = (env: Record<string, string>, args: string[] = []) => {
    try {
      loadConfig(args, env);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error(`accepted ${JSON.stringify(env)}`);
  };

  it("refuses bad API_KEYS naming the variable and the problem, and never quoting a key", () => {
    expect(refused({ API_KEYS: '[{"key": "s3cret-a", ' })).toMatch(/^API_KEYS: not valid JSON/);
    expect(refused({ API_KEYS: "s3cret-a" })).toMatch(/^API_KEYS: not valid JSON/);
    expect(refused({ API_KEYS: "[]" })).toMatch(/^API_KEYS: expected a non-empty JSON array/);
    expect(refused({ API_KEYS: '[{"key": "s3cret-a", "scopes": ["predict", "root"]}]' })).toMatch(/^API_KEYS\[0\]\.scopes: unknown scope\(s\) "root"; expected predict, events, outcomes, monitor, admin/);
    expect(refused({ API_KEYS: '[{"key": "s3cret-a", "scopes": []}]' })).toMatch(/^API_KEYS\[0\]\.scopes: expected a non-empty array/);
    expect(refused({ API_KEYS: '[{"key": "", "scopes": ["predict"]}]' })).toMatch(/^API_KEYS\[0\]\.key: expected a non-empty string/);
    expect(refused({ API_KEYS: '[{"key": "s3cret a", "scopes": ["predict"]}]' })).toMatch(/^API_KEYS\[0\]\.key: expected visible ASCII/);
    expect(refused({ API_KEYS: '[{"key": "s3cret-a", "scopes": ["predict"], "name": "x"}]' })).toMatch(/^API_KEYS\[0\]: unknown field\(s\) name/);
    const duplicate = refused({ API_KEYS: '[{"key": "s3cret-a", "scopes": ["predict"]}, {"key": "s3cret-a", "scopes": ["admin"]}]' });
    expect(duplicate).toBe("API_KEYS[1].key: the same key as API_KEYS[0]");
    for (const env of [{ API_KEYS: '[{"key": "s3cret-a", ' }, { API_KEYS: "s3cret-a" }, { API_KEYS: '[{"key": "s3cret a", "scopes": ["predict"]}]' }]) {
      expect(refused(env)).not.toContain("s3cret");
    }
  });

  it("reads API_KEYS_FILE (or --api-keys-file), and refuses one that is unreadable, bad, or set with API_KEYS", () => {
    const dir = dataDir();
    const good = join(dir, "keys.json");
    writeFileSync(good, JSON.stringify([{ key: "file-key", scopes: ["admin"] }]));
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify([{ key: "file-key", scopes: ["admin", "everything"] }]));
    expect(loadConfig([], { API_KEYS_FILE: good }).apiKeys).toHaveLength(1);
    expect(loadConfig(["--api-keys-file", good], {}).apiKeys?.[0].scopes).toEqual(new Set(["admin"]));
    expect(refused({ API_KEYS_FILE: bad })).toMatch(/^API_KEYS_FILE \(.*bad\.json\)\[0\]\.scopes: unknown scope\(s\) "everything"/);
    expect(refused({ API_KEYS_FILE: join(dir, "missing.json") })).toMatch(/^API_KEYS_FILE: cannot read .*missing\.json/);
    expect(refused({ API_KEYS_FILE: good, API_KEYS: API_KEYS })).toMatch(/API_KEYS and API_KEYS_FILE are both set/);
  });

  it("refuses a CORS_ORIGINS entry that is not an origin", () => {
    expect(loadConfig([], { CORS_ORIGINS: "https://a.example, http://localhost:5173" }).corsOrigins).toEqual(["https://a.example", "http://localhost:5173"]);
    expect(refused({ CORS_ORIGINS: "https://a.example/" })).toMatch(/^CORS_ORIGINS: "https:\/\/a\.example\/" is not an origin/);
    expect(refused({ CORS_ORIGINS: "*" })).toMatch(/^CORS_ORIGINS: "\*" is not an origin/);
    expect(refused({}, ["--cors-origins", "a.example"])).toMatch(/^--cors-origins: "a\.example" is not an origin/);
  });

  it("is off by default", () => {
    const config = loadConfig([], {});
    expect(config.apiKeys).toBeUndefined();
    expect(config.corsOrigins).toEqual([]);
  });
});

describe("without keys (the default)", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await testServer();
  });
  afterAll(() => server?.close());

  it("serves every scope to anyone, over REST, tRPC and WebSocket, and sends no CORS headers", async () => {
    const client = createChurnClient(server.url, { WebSocket });
    try {
      expect((await client.predict.mutate({ ...SEED_REQUEST, customer_id: "open-trpc" })).customer_id).toBe("open-trpc");
      const metrics = await call(`${server.url}/metrics`, { headers: { origin: APP_ORIGIN } });
      expect(metrics.status).toBe(200);
      expect(metrics.headers["access-control-allow-origin"]).toBeUndefined();
      const reload = await call(`${server.url}/admin/reload`, { method: "POST", headers: JSON_TYPE, body: "{}" });
      expect(reload.status).toBe(200);
      const first = await new Promise((resolve, reject) => {
        const sub = client.monitoring.metrics.subscribe({ interval_ms: 100 }, { onData: (d) => (sub.unsubscribe(), resolve(d)), onError: reject });
      });
      expect(first).toMatchObject({ requests_total: expect.any(Number) });
    } finally {
      client.close();
    }
  });

  it("refuses preflights (no origin is allowed) and cross-origin upgrades; same-origin and origin-less upgrades are accepted", async () => {
    const preflight = await call(`${server.url}/predict`, { method: "OPTIONS", headers: { origin: APP_ORIGIN, "access-control-request-method": "POST" } });
    expect(preflight.status).toBe(403);
    expect(await upgrade(server.url, EVIL_ORIGIN)).toBe(403);
    expect(await upgrade(server.url, server.url)).toBe("open");
    expect(await upgrade(server.url)).toBe("open");
  });

  it("still refuses a text/plain POST to /admin/reload and to a tRPC mutation (415)", async () => {
    const reload = vi.spyOn(server.app.service, "reload");
    try {
      for (const path of ["/admin/reload", "/trpc/predict"]) {
        const res = await call(server.url + path, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" });
        expect(res.status, path).toBe(415);
      }
      expect(reload).not.toHaveBeenCalled();
    } finally {
      reload.mockRestore();
    }
  });
});
