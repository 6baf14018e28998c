// tRPC over HTTP: plain mutation calls answered directly (trpc-mutations.ts), the rest through
// tRPC's Fetch adapter, with the body read here whole and the answer written whole. tRPC's Node
// adapter streams both through web streams (a ReadableStream pulling the request, a reader pushing
// the response, an AbortController per call), which cost the server more than the call's own
// work; a tRPC body is one JSON document, so nothing is gained by streaming it. The guard
// (trpc-guard.ts) runs first.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AnyRouter } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { ClientGone, readBody, send } from "../api/rest.ts";
import { RequestError } from "../contract/errors.ts";
import { answerMutations, type Answer } from "./trpc-mutations.ts";

export interface TrpcHttpOptions<TRouter extends AnyRouter> {
  router: TRouter;
  /** The base path, e.g. `/trpc`. */
  endpoint: string;
  maxBodySize: number;
  createContext(req: IncomingMessage): object;
}

export function trpcOverHttp<TRouter extends AnyRouter>(o: TrpcHttpOptions<TRouter>): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(o, req, res).catch((err) => {
      if (err instanceof ClientGone) return void res.destroy();
      if (err instanceof RequestError && err.status === 413) {
        res.setHeader("connection", "close");
        return send(res, 413, { error: { code: "PAYLOAD_TOO_LARGE", message: err.message, issues: [] } });
      }
      console.error(`tRPC over HTTP failed: ${(err as Error).stack ?? err}`);
      if (!res.headersSent) send(res, 500, { error: { code: "INTERNAL", message: "internal error", issues: [] } });
      else res.destroy();
    });
  };
}

async function handle<TRouter extends AnyRouter>(o: TrpcHttpOptions<TRouter>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? "GET";
  const body = method === "GET" || method === "HEAD" ? undefined : (await readBody(req, o.maxBodySize)).toString("utf8");
  const answer = (body !== undefined && (await answerMutations(o.router, o.endpoint, req, body, () => o.createContext(req)))) || (await throughFetch(o, req, method, body));
  answer.headers["content-length"] = String(Buffer.byteLength(answer.body));
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
}

async function throughFetch<TRouter extends AnyRouter>(o: TrpcHttpOptions<TRouter>, req: IncomingMessage, method: string, body: string | undefined): Promise<Answer> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  const request = new Request(`http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`, { method, headers, body });
  const response = await fetchRequestHandler({
    endpoint: o.endpoint,
    req: request,
    router: o.router,
    createContext: () => o.createContext(req) as never,
  });
  const out: Record<string, string> = {};
  response.headers.forEach((value, name) => (out[name] = value));
  return { status: response.status, headers: out, body: await response.text() };
}
