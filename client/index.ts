// The typed client: `createChurnClient(url)` for TypeScript callers (Node 20, Deno, browsers).
// Queries and mutations go over HTTP with batching; subscriptions over a WebSocket opened only
// when first needed. Node 20 has no global WebSocket: pass `ws`'s as `{ WebSocket }`.
import { createTRPCClient, createWSClient, httpBatchLink, splitLink, wsLink, TRPCClientError, type TRPCClient, type TRPCLink } from "@trpc/client";
import { observable } from "@trpc/server/observable";
import type { AppRouter } from "../server/api/router.ts";

export type { AppRouter } from "../server/api/router.ts";
export type {
  BatchPredictRequest,
  BatchPredictResponse,
  HealthResponse,
  PredictOptions,
  PredictRequest,
  PredictResponse,
} from "../server/contract/api.ts";

export interface ChurnClientOptions {
  /** A WebSocket implementation where there is no global one (Node 20: `import { WebSocket } from "ws"`). */
  WebSocket?: unknown;
  /** Extra headers on HTTP calls (e.g. authorization at a gateway). */
  headers?: Record<string, string>;
  /** An API key, for a server with access control: sent as `Authorization: Bearer <key>` over HTTP and in the WebSocket's connection parameters. */
  apiKey?: string;
}

export type ChurnClient = TRPCClient<AppRouter> & { close(): void };

/** Subscriptions without a WebSocket implementation fail with a message that says what to pass. */
const noWebSocket: TRPCLink<AppRouter> = () => () =>
  observable((observer) => {
    observer.error(new TRPCClientError("subscriptions need a WebSocket: this runtime has none, pass createChurnClient(url, { WebSocket }) from the `ws` package"));
  });

export function createChurnClient(url: string, options: ChurnClientOptions = {}): ChurnClient {
  const base = url.replace(/\/+$/, "");
  const WebSocketImpl = (options.WebSocket ?? globalThis.WebSocket) as typeof WebSocket | undefined;
  const authorization = options.apiKey === undefined ? undefined : `Bearer ${options.apiKey}`;
  const headers = { ...options.headers, ...(authorization && { authorization }) };
  const ws = WebSocketImpl
    ? createWSClient({
        url: `${base.replace(/^http/, "ws")}/trpc`,
        WebSocket: WebSocketImpl,
        lazy: { enabled: true, closeMs: 10_000 },
        // Browsers cannot set headers on a WebSocket: the key goes in tRPC's first message.
        connectionParams: authorization ? { authorization } : undefined,
      })
    : null;
  const client = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: ws ? wsLink({ client: ws }) : noWebSocket,
        false: httpBatchLink({ url: `${base}/trpc`, headers: () => headers }),
      }),
    ],
  });
  // The tRPC client is a proxy that reads every property as a procedure path, so `close` is
  // answered by a proxy in front of it.
  const close = () => ws?.close();
  return new Proxy(client, {
    get: (target, prop, receiver) => (prop === "close" ? close : Reflect.get(target, prop, receiver)),
  }) as ChurnClient;
}
