// The typed client: `createChurnClient(url)` for TypeScript callers (Node 20, Deno, browsers).
// Queries and mutations go over HTTP with batching; subscriptions over a WebSocket opened only
// when first needed. Node 20 has no global WebSocket: pass `ws`'s as `{ WebSocket }`.
import { createTRPCClient, createWSClient, httpBatchLink, splitLink, wsLink, type TRPCClient } from "@trpc/client";
import type { AppRouter } from "../server/api/router.ts";

export type { AppRouter } from "../server/api/router.ts";
export type {
  BatchPredictRequest,
  BatchPredictResponse,
  HealthResponse,
  PredictOptions,
  PredictRequest,
  PredictResponse,
} from "../server/service/schemas.ts";

export interface ChurnClientOptions {
  /** A WebSocket implementation where there is no global one (Node 20: `import { WebSocket } from "ws"`). */
  WebSocket?: unknown;
  /** Extra headers on HTTP calls (e.g. authorization at a gateway). */
  headers?: Record<string, string>;
}

export type ChurnClient = TRPCClient<AppRouter> & { close(): void };

export function createChurnClient(url: string, options: ChurnClientOptions = {}): ChurnClient {
  const base = url.replace(/\/+$/, "");
  const ws = createWSClient({
    url: `${base.replace(/^http/, "ws")}/trpc`,
    WebSocket: (options.WebSocket ?? globalThis.WebSocket) as typeof WebSocket,
    lazy: { enabled: true, closeMs: 10_000 },
  });
  const client = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: wsLink({ client: ws }),
        false: httpBatchLink({ url: `${base}/trpc`, headers: () => options.headers ?? {} }),
      }),
    ],
  });
  // The tRPC client is a proxy that reads every property as a procedure path, so `close` is
  // answered by a proxy in front of it.
  const close = () => ws.close();
  return new Proxy(client, {
    get: (target, prop, receiver) => (prop === "close" ? close : Reflect.get(target, prop, receiver)),
  }) as ChurnClient;
}
