// The REST adapter for services in other languages: the documented paths, the same zod schemas
// and the same service calls as the tRPC procedures.
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import type { App } from "../app.ts";
import { CONSOLE_HTML } from "../console/page.ts";
import { BatchPredictRequest, CustomerImportRequest, CustomerQuery, OutcomeRequest, PlanBudgetRequest, PredictRequest } from "../contract/api.ts";
import { IngestInput } from "../contract/events.ts";
import { RequestError } from "../contract/errors.ts";
import { errorResponse, zodIssues } from "./errors.ts";
import { openApiDocument } from "./openapi.ts";
import { CUSTOMER_PREFIX, refusal, routeScope, type Grant } from "./scopes.ts";

type Handler = (app: App, req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** `/admin/reload` takes no options yet: its body is `{}`. */
const AdminReloadRequest = z.object({}).strict();

/** The client went away before its body was read: not a service failure, not service latency. */
export class ClientGone extends Error {}

export function send(res: ServerResponse, status: number, body: unknown, type = "application/json"): void {
  const text = type === "application/json" ? JSON.stringify(body) : String(body);
  res.writeHead(status, { "content-type": type === "application/json" ? "application/json; charset=utf-8" : type, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, err: unknown): void {
  const { status, body, retryAfterS } = errorResponse(err);
  if (retryAfterS !== undefined) res.setHeader("retry-after", String(retryAfterS));
  send(res, status, body);
}

/**
 * A request's whole body, refused past `limit` bytes (413) without reading the rest; a client that
 * goes away mid-body is `ClientGone`, not a failure of the service.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new RequestError(`request body over the limit of ${limit} bytes`, [], 413);
  if (Number(req.headers["content-length"] ?? 0) > limit) throw tooLarge();
  // Events rather than `for await`: the async iterator costs more than the rest of a small request.
  const chunks = await new Promise<Buffer[]>((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.resume();
        reject(tooLarge());
      } else {
        parts.push(chunk);
      }
    });
    req.once("end", () => resolve(parts));
    req.once("close", () => {
      if (!req.complete) reject(new ClientGone("client closed the connection mid-body"));
    });
    req.once("error", (err) => reject(req.complete ? err : new ClientGone(err.message)));
  });
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

/** Reads a JSON body, refusing a wrong content type (415) or more than `limit` bytes (413). */
async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers["content-type"] ?? "";
  if (!/^application\/json\b/i.test(type)) {
    throw new RequestError(`expected content-type application/json, got ${JSON.stringify(type)}`, [], 415);
  }
  const body = await readBody(req, limit);
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new RequestError(`body is not valid JSON: ${(err as Error).message}`);
  }
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw new RequestError("invalid request", zodIssues(r.error));
  return r.data;
}

function timed(operation: string, handler: Handler): Handler {
  return async (app, req, res) => {
    const t0 = performance.now();
    try {
      await handler(app, req, res);
    } catch (err) {
      if (err instanceof ClientGone) throw err;
      app.observeLatency(operation, performance.now() - t0);
      throw err;
    }
    app.observeLatency(operation, performance.now() - t0);
  };
}

const routes: Record<string, Record<string, Handler>> = {
  "/predict": {
    POST: timed("predict", async (app, req, res) => {
      const input = parse(PredictRequest, await readJson(req, app.config.maxBodyBytes));
      send(res, 200, await app.service.predict(input));
    }),
  },
  "/batch-predict": {
    POST: timed("batchPredict", async (app, req, res) => {
      const input = parse(BatchPredictRequest, await readJson(req, app.config.maxBodyBytes));
      send(res, 200, await app.service.batchPredict(input));
    }),
  },
  "/outcomes": {
    POST: timed("recordOutcome", async (app, req, res) => {
      send(res, 200, await app.service.recordOutcomes(parse(OutcomeRequest, await readJson(req, app.config.maxBodyBytes))));
    }),
  },
  "/plan-budget": {
    POST: timed("planBudget", async (app, req, res) => {
      send(res, 200, app.service.planBudget(parse(PlanBudgetRequest, await readJson(req, app.config.maxBodyBytes))));
    }),
  },
  "/events": {
    POST: timed("events.ingest", async (app, req, res) => {
      const input = parse(IngestInput, await readJson(req, app.config.maxBodyBytes));
      send(res, 200, await app.service.ingestEvents(input.events, input.batch));
    }),
  },
  "/customers/import": {
    POST: timed("customers.import", async (app, req, res) => {
      send(res, 200, await app.service.importCustomers(parse(CustomerImportRequest, await readJson(req, app.config.maxBodyBytes))));
    }),
  },
  "/metrics": { GET: async (app, _req, res) => send(res, 200, await app.metrics.text(), app.metrics.contentType) },
  "/health": { GET: async (app, _req, res) => send(res, 200, app.service.health()) },
  "/health/live": { GET: async (_app, _req, res) => send(res, 200, { live: true }) },
  "/health/ready": {
    GET: async (app, _req, res) => {
      const ready = app.service.health().ready;
      send(res, ready ? 200 : 503, { ready });
    },
  },
  "/openapi.json": { GET: async (app, _req, res) => send(res, 200, openApiDocument(app.service.health().model_version ?? "unknown")) },
  "/console": { GET: async (_app, _req, res) => send(res, 200, CONSOLE_HTML, "text/html; charset=utf-8") },
  "/admin/reload": {
    // A JSON body (`{}`), like every POST: a form or a text/plain fetch from a page cannot send one.
    POST: async (app, req, res) => {
      parse(AdminReloadRequest, await readJson(req, app.config.maxBodyBytes));
      try {
        send(res, 200, await app.service.reload());
      } catch (err) {
        // The old bundle keeps serving; say why the new one was refused.
        send(res, 422, { error: { code: "RELOAD_FAILED", message: (err as Error).message, issues: [] } });
      }
    },
  },
};

/** The REST paths (`/customers/{id}` aside), for checking that each is in the scope table. */
export const REST_PATHS: readonly string[] = Object.keys(routes);

/** `GET /customers/{id}?as_of=...`: the id is the rest of the path, URL-decoded. */
const CUSTOMER = CUSTOMER_PREFIX;
const customerRoute: Record<string, Handler> = {
  GET: timed("customers.get", async (app, req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    let customerId: string;
    try {
      customerId = decodeURIComponent(url.pathname.slice(CUSTOMER.length));
    } catch {
      throw new RequestError("the customer id in the path is not valid percent-encoding", [{ path: ["customer_id"], message: "invalid percent-encoding" }]);
    }
    const asOf = url.searchParams.get("as_of");
    const query = parse(CustomerQuery, asOf === null ? { customer_id: customerId } : { customer_id: customerId, as_of: asOf });
    send(res, 200, await app.service.getCustomer(query));
  }),
};

/** Serves `req`; `grant` is the caller's (server/http/access.ts), checked against the route's scope. */
export async function handleRest(app: App, req: IncomingMessage, res: ServerResponse, grant: Grant): Promise<void> {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  const methods = Object.hasOwn(routes, path) ? routes[path] : path.startsWith(CUSTOMER) ? customerRoute : undefined;
  try {
    if (!methods) return send(res, 404, { error: { code: "NOT_FOUND", message: `no route ${path}`, issues: [] } });
    const handler = methods[req.method ?? "GET"];
    if (!handler) {
      res.setHeader("allow", Object.keys(methods).join(", "));
      return send(res, 405, { error: { code: "METHOD_NOT_ALLOWED", message: `${req.method} not allowed on ${path}; use ${Object.keys(methods).join(", ")}`, issues: [] } });
    }
    const refused = refusal(grant, routeScope(path), `${req.method} ${methods === customerRoute ? `${CUSTOMER}{id}` : path}`);
    if (refused) {
      // The console is a page a browser opens: Basic makes it ask for the key (as the password).
      if (refused.status === 401) res.setHeader("www-authenticate", path === "/console" ? 'Basic realm="churn console", charset="UTF-8"' : "Bearer");
      return send(res, refused.status, { error: { code: refused.code, message: refused.message, issues: [] } });
    }
    await handler(app, req, res);
  } catch (err) {
    if (err instanceof ClientGone) return void res.destroy();
    if (err instanceof RequestError && err.status === 413) res.setHeader("connection", "close");
    if (!res.headersSent) sendError(res, err);
    else res.destroy();
  }
}
