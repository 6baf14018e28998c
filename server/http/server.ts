// One HTTP port for everything: tRPC over HTTP (/trpc), tRPC subscriptions over WebSocket
// (/trpc upgrade), and the REST routes. Runs on Node and Deno (node:http, ws).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { applyWSSHandler } from "@trpc/server/adapters/ws";
import { WebSocketServer } from "ws";
import { createApp, type App } from "../app.ts";
import type { Config } from "../config.ts";
import { appRouter } from "../api/router.ts";
import type { ApiContext } from "../api/trpc.ts";
import { handleRest, send } from "../api/rest.ts";
import { Access } from "./access.ts";
import { trpcOverHttp } from "./trpc-http.ts";
import { admitTrpc } from "./trpc-guard.ts";
import { DEFAULT_SOCKET_LIMITS, guardSockets } from "./websocket.ts";
import type { HealthResponse } from "../contract/api.ts";
import { observeRequests } from "../observability/access-log.ts";
import { startTraceExport, type TraceExport } from "../observability/export.ts";
import { runtimeName } from "../service/recommender.ts";

export interface RunningServer {
  url: string;
  port: number;
  app: App;
  server: Server;
  /** Stops accepting, lets in-flight requests finish, closes sockets and the app. */
  close(): Promise<void>;
}

/** How long in-flight requests have to finish once the server is stopping. */
const DRAIN_MS = 5_000;

/** While the bundle loads: live, not ready, and 503 for everything else. */
function starting(started: number, replica: string, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? "/").split("?")[0];
  if (path === "/health/live") return send(res, 200, { live: true });
  if (path === "/health/ready") return send(res, 503, { ready: false });
  if (path === "/health") {
    const health: HealthResponse = { status: "starting", live: true, ready: false, model_version: null, bundle: null, uptime_s: (Date.now() - started) / 1000, runtime: runtimeName(), replica };
    return send(res, 503, health);
  }
  res.setHeader("retry-after", "1");
  send(res, 503, { error: { code: "UNAVAILABLE", message: "starting: the model bundle is loading", issues: [] } });
}

/**
 * Listens at once (so probes see "live, not ready" while the bundle loads), then serves once
 * `app` (created from `config` if not given) is ready; `onListening` hears the URL before that.
 */
export async function startServer(config: Config, app?: App | Promise<App>, onListening?: (url: string) => void): Promise<RunningServer> {
  const started = Date.now();
  let theApp: App | null = null;
  let trpc: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  const access = new Access(config.apiKeys, config.corsOrigins);
  // Every request, "starting" answers included, gets a request id, a span and an access-log line.
  const server = createServer({ keepAlive: true }, observeRequests((req, res) => {
    if (access.cors(req, res)) return;
    if (!theApp || !trpc) starting(started, config.replicaId, req, res);
    else if (req.url?.startsWith("/trpc/")) {
      if (admitTrpc(req, res, config.maxBodyBytes)) trpc(req, res);
    } else void handleRest(theApp, req, res, access.grant(req.headers.authorization));
  }));
  // Refused at accept beyond the limit, rather than the process running out of file descriptors
  // (which the log, the outbox and the health probe need too).
  server.maxConnections = config.maxConnections;
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxBodyBytes });
  const unguard = guardSockets(wss, DEFAULT_SOCKET_LIMITS);
  server.on("upgrade", (req, socket, head) => {
    if (!access.admitsUpgrade(req)) {
      socket.end("HTTP/1.1 403 Forbidden\r\n\r\n");
      return;
    }
    if (!theApp) {
      socket.end("HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\n\r\n");
      return;
    }
    if (new URL(req.url ?? "/", "http://localhost").pathname !== "/trpc") {
      socket.end("HTTP/1.1 404 Not Found\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  onListening?.(url);
  let tracing: TraceExport | null = null;
  try {
    tracing = await startTraceExport();
    theApp = await (app ?? createApp(config));
  } catch (err) {
    await tracing?.shutdown();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw err;
  }
  const ready = theApp;
  const context: ApiContext = { service: ready.service, monitoring: ready.monitor, observeLatency: (op, ms) => ready.observeLatency(op, ms) };
  // The key: over HTTP in the Authorization header; over WebSocket in tRPC's connection
  // parameters (browsers cannot set headers on an upgrade), once for the connection.
  // Keep-alive is the guard's protocol pings: tRPC's own would be reset by any client message.
  const wsHandler = applyWSSHandler({
    wss,
    router: appRouter,
    createContext: ({ info }): ApiContext => ({ ...context, scopes: access.grant(info.connectionParams?.authorization) }),
  });
  trpc = trpcOverHttp({
    router: appRouter,
    endpoint: "/trpc",
    maxBodySize: config.maxBodyBytes,
    // The body is read whole before any procedure runs, so a refused call leaves the connection usable.
    createContext: (req): ApiContext => ({ ...context, scopes: access.grant(req.headers.authorization) }),
  });
  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    app: ready,
    server,
    close() {
      closing ??= (async () => {
        wsHandler.broadcastReconnectNotification();
        for (const client of wss.clients) client.close(1001, "server shutting down");
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Idle keep-alive sockets would hold close() open; busy ones finish their request first,
        // within DRAIN_MS: past it the rest are closed (under Deno a finished keep-alive
        // connection sometimes never counts as idle, and would hold the stop forever).
        server.closeIdleConnections?.();
        const drained = setTimeout(() => server.closeAllConnections?.(), DRAIN_MS);
        await closed;
        clearTimeout(drained);
        unguard();
        wss.close();
        await ready.close();
        await tracing?.shutdown();
      })();
      return closing;
    },
  };
}
